"""``compile=True``: mmengine compiles the model's ``train_step`` (under torchrun,
``MMDistributedDataParallel``'s). Every method's masked forward traces whole under
TorchDynamo (no graph breaks in the masker, encoder, decoder, target and loss), and
its compiled training step computes what the eager one does (the guarded wrappers'
``update_params`` stays out of TorchDynamo, which fails on the parameter groups).
Tiny versions of the shipped configs; the ``aot_eager`` backend (TorchDynamo +
AOTAutograd, no code generation) keeps this to seconds per method; Inductor itself
(about a minute of compilation on 2 CPU cores) runs on MAE and UM-MAE Swin."""
import copy
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch._inductor.config as inductor_config
from mmengine.config import Config
from mmengine.model import BaseModel, MMDistributedDataParallel
from mmengine.optim import build_optim_wrapper
from photos import photo_tensor
from test_configs import tiny_model_and_size
from torch import nn

import mmmim.engine  # noqa: F401  (GuardedOptimWrapper)

# slow: left out of `make test-fast` (make test runs everything)
pytestmark = pytest.mark.slow

CONFIGS = Path(__file__).parents[2] / 'configs'
SCHEDULE = CONFIGS / '_base_/schedules/adamw_coslr_pretrain.py'
METHODS = {
    'mae': 'mae/mae_vit-base-p16_8xb512-amp-coslr-400e_in1k.py',
    'ummae_swin': 'ummae/ummae_swin-tiny-w8_8xb512-amp-coslr-200e_in1k-256px.py',
    'ummae_pvt': 'ummae/ummae_pvt-small_8xb512-amp-coslr-200e_in1k-256px.py',
    'simmim_swin': 'simmim/simmim_swin-tiny-w16_8xb512-amp-coslr-200e_in1k-256px.py',
    'simmim_pvt': 'simmim/simmim_pvt-small_8xb512-amp-coslr-200e_in1k-256px.py',
    'localmim_vit_hog': 'localmim/localmim_vit-base-p16_8xb256-amp-coslr-100e_in1k.py',
    'localmim_swin': 'localmim/localmim_swin-base-w7_8xb256-amp-coslr-100e_in1k.py',
    'pixmim': 'pixmim/pixmim_vit-base-p16_8xb512-amp-coslr-300e_in1k.py',
    'ummae_vit': 'ummae/ummae_vit-base-p16_8xb512-amp-coslr-200e_in1k.py',
    'localmim_ummae_swin':
        'localmim/localmim_ummae_swin-base-w8_8xb256-amp-coslr-100e_in1k-256px.py',
}


def tiny(method: str):
    model, size = tiny_model_and_size(CONFIGS / METHODS[method])
    images = (photo_tensor(size) * 60 + 120).clamp(0, 255).byte()   # [4, 3, S, S] uint8
    return model, images


@pytest.mark.parametrize('method', sorted(METHODS))
def test_masked_forward__traces_without_graph_breaks(method):
    model, images = tiny(method)
    inputs = model.data_preprocessor(dict(inputs=list(images)), training=True)['inputs']
    torch._dynamo.reset()
    explanation = torch._dynamo.explain(lambda x: model(x, mode='loss'))(inputs)
    torch._dynamo.reset()
    reasons = [str(b.reason).splitlines()[0] for b in explanation.break_reasons]
    assert explanation.graph_break_count == 0, f'{method}: {reasons}'


def losses_of(model, images, backend=None, steps=2):
    """Losses of ``steps`` training steps (the pretraining optimizer wrapper), the
    masks drawn from the same seeds."""
    spec = Config.fromfile(str(SCHEDULE)).optim_wrapper.to_dict()
    spec['optimizer']['lr'] = 1e-3
    wrapper = build_optim_wrapper(model, spec)
    train_step = model.train_step
    if backend:
        torch._dynamo.reset()
        train_step = torch.compile(model.train_step, backend=backend)
    losses = []
    with inductor_config.patch(fallback_random=True):  # Inductor draws eager's masks
        for step in range(steps):
            torch.manual_seed(step)
            losses.append(float(train_step(dict(inputs=list(images)), wrapper)['loss']))
    torch._dynamo.reset()
    return losses


@pytest.mark.parametrize('method, backend', [(m, 'aot_eager') for m in sorted(METHODS)]
                         + [('mae', 'inductor'), ('ummae_swin', 'inductor')])
def test_compiled_train_step__gives_the_eager_losses(method, backend):
    model, images = tiny(method)
    twin = copy.deepcopy(model)
    eager = losses_of(model, images)
    compiled = losses_of(twin, images, backend=backend)
    assert eager[1] != eager[0]                      # the optimizer step ran
    assert compiled == pytest.approx(eager, rel=1e-4, abs=1e-5), (method, eager, compiled)


class LinearRegression(BaseModel):
    """The smallest model a ``train_step`` steps: one Linear, a squared loss."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 1)

    def forward(self, inputs, data_samples=None, mode='loss'):
        return dict(loss=self.linear(inputs).square().mean())


def test_ddp_train_step__compiled_forward_eager_parameter_update():
    """mmengine's ``MMDistributedDataParallel.train_step`` (what ``compile=True``
    compiles under torchrun) calls ``optim_wrapper.update_params`` itself, with no
    fence of the model's on the way: the guarded wrapper keeps backward, the
    finite check and the AdamW step out of every traced graph."""
    torch.manual_seed(0)
    model = LinearRegression()
    wrapper = build_optim_wrapper(model, dict(type='mmmim.GuardedOptimWrapper',
                                              optimizer=dict(type='AdamW', lr=0.1)))
    ddp = SimpleNamespace(module=model, _run_forward=model._run_forward,
                          detect_anomalous_params=False)    # the parts train_step uses
    graphs = []

    def recording_backend(graph_module, example_inputs):
        graphs.append(graph_module)
        return graph_module.forward

    torch._dynamo.reset()
    train_step = torch.compile(lambda data: MMDistributedDataParallel.train_step(
        ddp, data, wrapper), backend=recording_backend)
    before = model.linear.weight.detach().clone()
    log_vars = train_step(dict(inputs=torch.randn(8, 4)))
    torch._dynamo.reset()
    traced = [str(node.target) for g in graphs for node in g.graph.nodes]
    assert torch.isfinite(log_vars['loss']) and not torch.equal(model.linear.weight, before)
    assert any('linear' in target for target in traced)              # forward compiled
    update = [t for t in traced if any(op in t.lower() for op in (
        'isfinite', 'backward', 'adam', 'foreach', 'all_reduce'))]
    assert not update, update
