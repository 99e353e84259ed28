"""The load report every conversion and every pretrained initialization returns.

Silent non-loads (``strict=False`` with keys that never matched) are the most
expensive failure downstream, so a conversion says what happened to every tensor:

- ``matched``: backbone tensors that reached the target (after loading into a module:
  tensors whose key and shape the module has);
- ``expected_missing``: target parameters the checkpoint cannot hold (heads, layer
  scale, relative position bias...): the target initializes them;
- ``dropped_on_purpose``: checkpoint tensors left out deliberately (decoder, mask
  tokens, secondary token, target module, data preprocessor), with the reason;
- ``missing``: target parameters that should have come from the checkpoint but did not;
- ``unexpected``: checkpoint tensors the converter did not recognise, or converted
  tensors the target module does not have;
- ``shape_mismatch``: keys whose shapes disagree with the target.

:meth:`LoadReport.check` raises :class:`ConversionError` when the backbone did not load.
"""
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional

import torch
from torch import nn

MAX_LISTED = 6


class ConversionError(RuntimeError):
    """The backbone did not load; the message carries the full report."""


def _short(keys: Iterable[str], limit: int = MAX_LISTED) -> str:
    keys = sorted(keys)
    head = ', '.join(keys[:limit])
    return head + (f', ... (+{len(keys) - limit} more)' if len(keys) > limit else '')


@dataclass
class LoadReport:
    """What a conversion (and optionally a load into a module) did to each tensor.

    Attributes:
        converter: registered name, e.g. ``'vit->timm'``.
        source: detected checkpoint layout, e.g. ``'mmmim pretraining (encoder.*)'``.
        matched, expected_missing, missing, unexpected, shape_mismatch: key lists
            (see the module docstring).
        dropped_on_purpose: checkpoint key -> reason.
        optional: converted keys the target may lack without harm (a final norm the
            target replaces); loading moves them to ``dropped_on_purpose``.
        notes: free-text remarks (position embedding resized, family guess...).
        part: what must load, in the status line (``'backbone'``; an import into a
            pretraining model: ``'encoder and decoder'``).
    """
    converter: str
    source: str = 'unknown'
    matched: List[str] = field(default_factory=list)
    expected_missing: List[str] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)
    dropped_on_purpose: Dict[str, str] = field(default_factory=dict)
    unexpected: List[str] = field(default_factory=list)
    shape_mismatch: List[str] = field(default_factory=list)
    optional: Dict[str, str] = field(default_factory=dict)
    notes: List[str] = field(default_factory=list)
    loaded_into: Optional[str] = None
    part: str = 'backbone'

    @property
    def ok(self) -> bool:
        return bool(self.matched) and not (self.missing or self.unexpected
                                           or self.shape_mismatch)

    def _dropped_summary(self) -> str:
        by_reason = defaultdict(list)
        for key, reason in self.dropped_on_purpose.items():
            by_reason[reason].append(key)
        return '; '.join(f'{len(keys)} {reason} ({_short(keys, 3)})'
                         for reason, keys in sorted(by_reason.items()))

    def summary(self) -> str:
        """A multi-line human summary (what the logs show)."""
        target = f' into {self.loaded_into}' if self.loaded_into else ''
        lines = [f'[{self.converter}] load report{target}: source = {self.source}',
                 f'  matched           : {len(self.matched)} tensors',
                 f'  expected missing  : {len(self.expected_missing)}'
                 + (f' ({_short(self.expected_missing)})' if self.expected_missing else ''),
                 f'  dropped on purpose: {len(self.dropped_on_purpose)}'
                 + (f' -> {self._dropped_summary()}' if self.dropped_on_purpose else '')]
        for name in ('missing', 'unexpected', 'shape_mismatch'):
            keys = getattr(self, name)
            if keys:
                lines.append(f'  {name.upper():18s}: {len(keys)} ({_short(keys)})')
        lines += [f'  note: {n}' for n in self.notes]
        lines.append('  status: ' + (f'OK, {self.part} fully loaded' if self.ok
                                     else f'FAILED, {self.part} did not load'))
        return '\n'.join(lines)

    __str__ = summary

    def check(self) -> 'LoadReport':
        """Raise :class:`ConversionError` with the summary unless the backbone loaded."""
        if self.ok:
            return self
        if not self.matched:
            why = f'no {self.part} tensor matched'
        else:
            bad = len(self.missing) + len(self.unexpected) + len(self.shape_mismatch)
            why = (f'only {len(self.matched)} {self.part} tensors matched and {bad} '
                   'did not (missing / unexpected / wrong shape)')
        raise ConversionError(f'{why}.\n{self.summary()}')

    def compare_with(self, converted: Dict[str, torch.Tensor],
                     target: Dict[str, torch.Tensor], target_name: str,
                     expected_missing: Iterable[str] = ()) -> None:
        """Refine the report against a target state dict (keys and shapes).

        Args:
            converted: the converter's output.
            target: the target module's ``state_dict()``.
            target_name: shown in the summary.
            expected_missing: regular expressions (``re.search``) for target keys
                the checkpoint cannot provide (heads, layer scale...).
        """
        patterns = [re.compile(p) for p in expected_missing]
        self.loaded_into = target_name
        self.matched, self.missing, self.unexpected = [], [], list(self.unexpected)
        self.expected_missing, self.shape_mismatch = [], []
        for key, value in converted.items():
            if key not in target:
                if key in self.optional:
                    self.dropped_on_purpose[key] = self.optional[key]
                else:
                    self.unexpected.append(key)
            elif tuple(target[key].shape) != tuple(value.shape):
                self.shape_mismatch.append(
                    f'{key} {tuple(value.shape)} vs {tuple(target[key].shape)}')
            else:
                self.matched.append(key)
        for key in target:
            if key not in converted:
                (self.expected_missing if any(p.search(key) for p in patterns)
                 else self.missing).append(key)


def load_converted(module: nn.Module, converted: Dict[str, torch.Tensor],
                   report: LoadReport, expected_missing: Iterable[str] = (),
                   check: bool = True) -> LoadReport:
    """Load converted tensors into ``module`` and finish ``report`` against it.

    Only tensors whose key and shape match are loaded, so a failed check leaves
    nothing half-loaded in an inconsistent shape. Raises unless the backbone loaded
    (``check=True``).
    """
    target = module.state_dict()
    report.compare_with(converted, target, type(module).__name__, expected_missing)
    if check:
        report.check()
    loadable = {k: converted[k] for k in report.matched}
    module.load_state_dict(loadable, strict=False)
    return report
