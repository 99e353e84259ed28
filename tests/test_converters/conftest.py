"""Fixtures: a tiny mmmim MAE pretraining checkpoint on disk and our encoder's
features on real photographs."""
import pytest
import torch
from test_converters.helpers import tiny_pretrained_model


@pytest.fixture(scope='module')
def pretrained(tmp_path_factory):
    """(model, path of ``{'state_dict': model.state_dict()}``)."""
    model = tiny_pretrained_model(secondary_token=True)
    path = tmp_path_factory.mktemp('ckpt') / 'tiny_mae.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {'epoch': 1}}, path)
    return model, str(path)


@pytest.fixture(scope='module')
def reference_tokens(pretrained, photo_batch):
    """Our encoder's final-normed tokens ``[N, 1 + L, C]`` on real photographs."""
    model, _ = pretrained
    with torch.no_grad():
        return model.encoder(photo_batch)[0]
