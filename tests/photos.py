"""pytest plugin (loaded by ``-p photos`` in pyproject.toml): real photographs from
scikit-image as test inputs."""
import numpy as np
import pytest
import torch


def photo_tensor(size: int = 64, names=('astronaut', 'chelsea', 'coffee', 'rocket')
                 ) -> torch.Tensor:
    """``[N, 3, size, size]`` float photographs, roughly standardized (x - 120) / 60."""
    from PIL import Image
    from skimage import data
    arrays = [np.asarray(Image.fromarray(getattr(data, n)()).convert('RGB')
                         .resize((size, size), Image.BICUBIC)) for n in names]
    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float()
    return (x - 120.) / 60.


@pytest.fixture(scope='session')
def photo_batch() -> torch.Tensor:
    """Four real photographs, 64x64."""
    return photo_tensor(64)
