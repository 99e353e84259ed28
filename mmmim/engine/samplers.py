"""A DefaultSampler whose next pass can start part-way through the epoch."""
from typing import Iterator

from mmengine.dataset import DefaultSampler

from mmmim.registry import DATA_SAMPLERS


@DATA_SAMPLERS.register_module()
class ResumableSampler(DefaultSampler):
    """mmengine's :class:`DefaultSampler` (same shuffle: seed + epoch; same per-rank
    split), plus :meth:`set_start`: the next pass skips the first ``start`` indices
    of this rank's share of the epoch. Later passes are whole again.

    ``len()`` stays the length of a whole pass, so the loop's count of iterations
    per epoch does not change when resuming.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._start = 0

    def set_start(self, start: int) -> None:
        """Skip the first ``start`` indices of this rank in the next pass only."""
        if not 0 <= start <= self.num_samples:
            raise ValueError(f'start {start} outside [0, {self.num_samples}] '
                             '(the samples of one pass on this rank)')
        self._start = start

    def __iter__(self) -> Iterator[int]:
        indices = list(super().__iter__())
        start, self._start = self._start, 0
        return iter(indices[start:])
