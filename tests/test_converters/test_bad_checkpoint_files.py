"""The converters and MIMPretrained read checkpoints through the one reader of
:mod:`mmmim.checkpoint_io`: a bad file gives the same message naming it and the
problem as ``--resume`` does."""
import re
from pathlib import Path

import pytest
from torch import nn

from mmmim.checkpoint_io import CheckpointError, read_checkpoint
from mmmim.converters import MIMPretrained
from mmmim.converters.files import convert_file_cli


@pytest.fixture
def truncated(pretrained, tmp_path) -> Path:
    """The tiny MAE pretraining checkpoint cut to 60% (a save killed midway)."""
    data = Path(pretrained[1]).read_bytes()
    path = tmp_path / 'cut.pth'
    path.write_bytes(data[:len(data) * 3 // 5])
    return path


def test_convert_cli__truncated_checkpoint_named_nothing_written(truncated, tmp_path, capsys):
    assert convert_file_cli(str(truncated), str(tmp_path / 'out.pth'), 'timm', 'vit') == 1
    err = capsys.readouterr().err
    assert f'cannot load checkpoint {truncated}: truncated: a zip archive' in err
    assert 'PytorchStreamReader' not in err
    assert not (tmp_path / 'out.pth').exists()


def test_mim_pretrained__truncated_checkpoint_named(truncated):
    with pytest.raises(CheckpointError, match=f'cannot load checkpoint {truncated}: truncated'):
        MIMPretrained(str(truncated))(nn.Linear(2, 2))


def test_read_checkpoint__empty_missing_and_plain_pickle_named(tmp_path):
    import pickle
    (tmp_path / 'empty.pth').write_bytes(b'')
    (tmp_path / 'plain.pkl').write_bytes(pickle.dumps({'a': 1}, protocol=4))
    cases = {tmp_path / 'empty.pth': 'empty file (0 bytes)',
             tmp_path / 'missing.pth': 'the file does not exist',
             tmp_path / 'plain.pkl': 'not a checkpoint: a pickle that torch.save did not'}
    for path, problem in cases.items():
        with pytest.raises(CheckpointError, match=re.escape(f'{path}: {problem}')):
            read_checkpoint(path)
    with pytest.raises(FileNotFoundError):  # as mmengine's loader raises for it
        read_checkpoint(tmp_path / 'missing.pth')
