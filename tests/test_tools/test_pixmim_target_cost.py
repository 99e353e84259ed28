"""tools/experiments/pixmim_target_cost.py: one round on a tiny ViT at 32 px."""
import importlib.util
from pathlib import Path

TOOL = Path(__file__).parents[2] / 'tools' / 'experiments' / 'pixmim_target_cost.py'
TINY = {'model.encoder.arch': dict(_delete_=True, embed_dims=32, num_layers=1, num_heads=2,
                                   feedforward_channels=64),
        'model.encoder.img_size': 32, 'model.decoder.dims': 32, 'model.decoder.depth': 1,
        'model.decoder.num_heads': 2}


def load_tool():
    spec = importlib.util.spec_from_file_location('pixmim_target_cost', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_measure__models_differ_only_in_target_filter_and_times_are_positive(capsys):
    tool = load_tool()
    result = tool.measure(2, 1, options=TINY, image_size=32)
    tool.report(result)
    assert result['differences'] == ['model.target.filters']
    assert result['image_size'] == [32, 32]
    (row,) = result['rounds']
    assert row['pixmim_target_s'] > 0 and row['mae_target_s'] > 0 and row['mae_step_s'] > 0
    assert row['extra_s'] == row['pixmim_target_s'] - row['mae_target_s']
    assert result['share_percent'] == 100 * result['median_extra_s'] / result['median_step_s']
    assert 'round 0: PixMIM target' in capsys.readouterr().out
