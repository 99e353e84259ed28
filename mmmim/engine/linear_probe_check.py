"""A linear probe of the frozen encoder during pretraining: how linearly separable are
the classes in what the encoder has learned so far?

:class:`LinearProbeLoop` (a validation loop) extracts the mask-free encoder's pooled
features (:func:`pooled_features`) of a labeled ``fit_dataloader`` (the training
split, no augmentation) and of the loop's own ``dataloader`` (the validation split),
and :class:`LinearProbeMetric` fits a standardized multinomial logistic regression
(scikit-learn) on the first and reports its top-1 on the second as ``probe/top1``
(and, with ``per_class``, the mean top-1 of probes fitted on that many labels per
class as ``probe/top1_<k>_per_class``). The global random states are restored after
the loop, so a run with the probe trains exactly as one without. Used by
``configs/digits/`` (with :class:`~mmmim.engine.hooks.CPUBudgetHook`, which stamps each
probe with the training CPU time it was taken at). Needs scikit-learn.
"""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.model import is_model_wrapper
from mmengine.runner import ValLoop

from mmmim.random_states import preserved_random_states
from mmmim.registry import LOOPS, METRICS


@torch.no_grad()
def pooled_features(encoder: torch.nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """Frozen features ``[B, C]`` of the plain (mask-free) encoder on ``inputs``
    ``[B, 3, H, W]``: ViT tokens ``[B, 1 + L, C]`` after the final norm -> the mean of
    the patch tokens; a pyramid's last stage map ``[B, C, h, w]`` -> its spatial mean."""
    out = encoder(inputs)[-1]
    if out.dim() == 4:
        return out.mean((2, 3))
    return out[:, getattr(encoder, 'num_extra_tokens', 1):].mean(1)


def linear_probe(train: np.ndarray, y_train, val: np.ndarray, y_val) -> float:
    """Top-1 on ``val`` ``[M, C]`` of a multinomial logistic regression fitted on
    ``train`` ``[N, C]`` after standardizing each feature with train's statistics
    (BatchNorm without affine, as the MAE linear probe)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0))
    probe.fit(train, np.asarray(y_train))
    return float((probe.predict(val) == np.asarray(y_val)).mean())


def few_label_probe(train: np.ndarray, y_train, val: np.ndarray, y_val, per_class: int,
                    draws: int = 5) -> float:
    """Mean top-1 of :func:`linear_probe` fitted on ``per_class`` labeled samples per
    class (``draws`` fixed random subsets)."""
    labels = np.asarray(y_train)
    scores = []
    for draw in range(draws):
        rng = np.random.default_rng(draw)
        pick = np.concatenate([rng.choice(np.flatnonzero(labels == c), per_class, replace=False)
                               for c in np.unique(labels)])
        scores.append(linear_probe(train[pick], labels[pick], val, y_val))
    return float(np.mean(scores))


@LOOPS.register_module()
class LinearProbeLoop(ValLoop):
    """A validation loop that hands :class:`LinearProbeMetric` the frozen encoder's
    features of ``fit_dataloader`` (``split='fit'``) and of ``dataloader``
    (``split='eval'``), with their labels (the samples' ``gt_label``); the model's
    train / eval mode is what it was before (the loop may run mid-epoch).

    Meant for one process (the digits runs): under several, each rank probes its
    shard and the collected samples may include the samplers' padding repeats.

    Args:
        runner, dataloader, evaluator, fp16: as ``ValLoop``.
        fit_dataloader: the labeled samples the probe is fitted on (a loader or its
            config).
    """

    def __init__(self, runner, dataloader, evaluator, fit_dataloader, fp16: bool = False
                 ) -> None:
        super().__init__(runner, dataloader, evaluator, fp16)
        if isinstance(fit_dataloader, dict):
            fit_dataloader = runner.build_dataloader(fit_dataloader, seed=runner.seed)
        self.fit_dataloader = fit_dataloader

    def run(self) -> dict:
        self.runner.call_hook('before_val')
        self.runner.call_hook('before_val_epoch')
        model = self.runner.model.module if is_model_wrapper(self.runner.model) \
            else self.runner.model
        was_training = model.training
        model.eval()
        loaders = (('fit', self.fit_dataloader), ('eval', self.dataloader))
        with preserved_random_states():
            for split, loader in loaders:
                for data_batch in loader:
                    self.evaluator.process(self.features_of(model, data_batch, split),
                                           data_batch)
        model.train(was_training)
        metrics = self.evaluator.evaluate(sum(len(loader.dataset) for _, loader in loaders))
        self.runner.call_hook('after_val_epoch', metrics=metrics)
        self.runner.call_hook('after_val')
        return metrics

    @staticmethod
    def features_of(model, data_batch: dict, split: str) -> List[dict]:
        """One ``dict(features [C] array, label, split)`` per sample of the batch."""
        data = model.data_preprocessor(data_batch, False)
        features = pooled_features(model.encoder, data['inputs']).float().cpu().numpy()
        return [dict(features=f, label=int(s.gt_label), split=split)
                for f, s in zip(features, data['data_samples'])]


@METRICS.register_module()
class LinearProbeMetric(BaseMetric):
    """Top-1 of :func:`linear_probe` fitted on the ``split='fit'`` samples and scored on
    the ``split='eval'`` ones (each ``dict(features, label, split)``, as
    :class:`LinearProbeLoop` hands them).

    Args:
        per_class: also report the few-label probe (:func:`few_label_probe`) with
            this many labels per class; ``None``: not.
        draws: random label subsets the few-label probe averages over.
    """

    default_prefix = 'probe'

    def __init__(self, per_class: Optional[int] = None, draws: int = 5, **kwargs) -> None:
        super().__init__(**kwargs)
        self.per_class, self.draws = per_class, draws

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        self.results.extend(data_samples)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        def split(name):
            picked = [r for r in results if r['split'] == name]
            return (np.stack([r['features'] for r in picked]),
                    np.array([r['label'] for r in picked]))
        (train, y_train), (val, y_val) = split('fit'), split('eval')
        scores = dict(top1=linear_probe(train, y_train, val, y_val))
        if self.per_class:
            scores[f'top1_{self.per_class}_per_class'] = few_label_probe(
                train, y_train, val, y_val, self.per_class, self.draws)
        return scores
