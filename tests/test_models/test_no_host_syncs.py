"""The training step's checks and tables cost no host sync on a GPU: ``check_all``
reads a CUDA condition on the host only the first time (a clear error for a
misconfiguration), then asserts in device code; the CPU keeps its ValueError. The
decoders' sin-cos position table is copied to the device once, then reused."""
import pytest
import torch
from torch.utils._pytree import tree_map

from mmmim.models import EncoderOutput, MaskSet
from mmmim.models import utils as model_utils
from mmmim.models.decoders import MAEDecoder
from mmmim.models.decoders import mae_decoder as mae_decoder_module
from mmmim.models.encoders.compaction import window_choice
from mmmim.models.pos_embed import sincos_pos_embed
from mmmim.models.utils import check_all

MESSAGE = 'one visible unit per "window"'


class CudaLike(torch.Tensor):
    """A CPU tensor that says it is on CUDA and counts the reads of its values on
    the host (``.item()``, ``bool()``: the syncs of a real CUDA tensor)."""
    host_reads = 0

    @staticmethod
    def __new__(cls, data: torch.Tensor):
        return torch.Tensor._make_wrapper_subclass(cls, data.shape, data.stride(),
                                                   dtype=data.dtype, device='cuda')

    def __init__(self, data: torch.Tensor):
        self.cpu_data = data

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        if func is torch.ops.aten._local_scalar_dense.default:
            CudaLike.host_reads += 1
        out = func(*tree_map(cls.unwrap, args), **tree_map(cls.unwrap, kwargs or {}))
        return tree_map(lambda x: CudaLike(x) if type(x) is torch.Tensor else x, out)

    @staticmethod
    def unwrap(x):
        return x.cpu_data if isinstance(x, CudaLike) else x


@pytest.fixture
def fresh_process(monkeypatch):
    """No message checked on the host yet; the read counter at 0."""
    monkeypatch.setattr(model_utils, '_HOST_CHECKED', set())
    monkeypatch.setattr(CudaLike, 'host_reads', 0)


def test_check_all__cpu_reads_every_time_and_raises_the_message(fresh_process):
    for _ in range(2):
        check_all(torch.ones(2, 3, dtype=torch.bool), MESSAGE)
        with pytest.raises(ValueError, match='one visible unit per "window"'):
            check_all(torch.tensor([True, False]), MESSAGE)


def test_check_all__cuda_reads_on_the_host_only_the_first_time(fresh_process):
    for _ in range(3):
        check_all(CudaLike(torch.ones(2, 3, dtype=torch.bool)), MESSAGE)
    assert CudaLike.host_reads == 1
    check_all(CudaLike(torch.ones(2, dtype=torch.bool)), 'another check')
    assert CudaLike.host_reads == 2


def test_check_all__cuda_first_failure_is_the_value_error(fresh_process):
    with pytest.raises(ValueError, match='one visible unit per "window"'):
        check_all(CudaLike(torch.tensor([True, False])), MESSAGE)


def test_check_all__cuda_later_failures_assert_on_the_device(fresh_process):
    check_all(CudaLike(torch.ones(2, 3, dtype=torch.bool)), MESSAGE)
    condition = torch.ones(2, 3, dtype=torch.bool)
    condition[1, 2] = False
    with pytest.raises(RuntimeError, match="one visible unit per 'window'"):
        check_all(CudaLike(condition), MESSAGE)      # the CPU runs the device's check
    assert CudaLike.host_reads == 1


def test_compaction__uniform_cuda_masks_read_on_the_host_once(fresh_process):
    visible = torch.zeros(2, 4, 4, dtype=torch.bool)
    visible[:, ::2, 1::2] = True                          # one unit per 2x2 window
    choices = [window_choice(CudaLike(visible.flatten(1)), (4, 4)) for _ in range(3)]
    assert CudaLike.host_reads == 1
    assert all(torch.equal(c.cpu_data, torch.ones(2, 2, 2, dtype=torch.long))
               for c in choices)


def test_sincos_pos_embed__device_copy_is_cached_with_the_same_values():
    table = sincos_pos_embed((3, 5), 16, device=torch.device('cpu'), dtype=torch.bfloat16)
    again = sincos_pos_embed((3, 5), 16, device=torch.device('cpu'), dtype=torch.bfloat16)
    assert again is table
    assert table.dtype == torch.bfloat16 and table.shape == (1, 15, 16)
    assert torch.equal(table, sincos_pos_embed((3, 5), 16).to(torch.bfloat16))


def test_mae_decoder__second_forward_reuses_the_position_table(monkeypatch):
    tables = []

    def recording(*args, **kwargs):
        tables.append(sincos_pos_embed(*args, **kwargs))
        return tables[-1]

    monkeypatch.setattr(mae_decoder_module, 'sincos_pos_embed', recording)
    torch.manual_seed(0)
    decoder = MAEDecoder(in_dims=16, dims=32, depth=1, num_heads=2).to(torch.bfloat16)
    masks = MaskSet(mask=torch.tensor([[True, False, True, True]]), grid=(2, 2),
                    unit_size=16)
    latent = EncoderOutput(tokens=torch.randn(1, 2, 16, dtype=torch.bfloat16), hw=(2, 2),
                           num_extra_tokens=1)
    first = decoder(latent, masks)
    second = decoder(latent, masks)
    assert len(tables) == 2 and tables[1] is tables[0]
    assert tables[0].dtype == torch.bfloat16
    assert torch.equal(first, second)
