"""The linear probe of the frozen encoder: the metric separates what is linearly
separable (and not shuffled labels), and the features are a mean over the encoder's
final tokens or last stage."""
import numpy as np
import torch

from mmmim.engine.linear_probe_check import LinearProbeMetric, pooled_features


def blobs(n_per_class: int, seed: int, shuffle: bool = False):
    """3 classes of 16-d Gaussian points around far-apart centres (``dict`` samples)."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(100).normal(scale=4., size=(3, 16))
    labels = np.repeat(np.arange(3), n_per_class)
    points = centres[labels] + rng.normal(size=(len(labels), 16))
    if shuffle:
        labels = rng.permutation(labels)
    return points, labels


def probe_samples(shuffle: bool):
    samples = []
    for split, seed in (('fit', 0), ('eval', 1)):
        points, labels = blobs(40, seed, shuffle)
        samples += [dict(features=p, label=int(y), split=split) for p, y in zip(points, labels)]
    return samples


def test_metric__separable_classes_high_top1_shuffled_labels_near_chance():
    metric = LinearProbeMetric(per_class=5, draws=2)
    metric.process(None, probe_samples(shuffle=False))
    scores = metric.compute_metrics(metric.results)
    assert scores['top1'] >= 0.95 and scores['top1_5_per_class'] >= 0.9
    shuffled = LinearProbeMetric().compute_metrics(probe_samples(shuffle=True))
    assert set(shuffled) == {'top1'} and shuffled['top1'] < 0.6


class Tokens(torch.nn.Module):
    """A stand-in encoder returning ``(x,)``: ``[B, 1 + L, C]`` tokens or a map."""
    num_extra_tokens = 1

    def forward(self, x):
        return (x,)


def test_pooled_features__mean_of_patch_tokens_or_of_the_last_map():
    tokens = torch.arange(2 * 3 * 2, dtype=torch.float).reshape(2, 3, 2)
    assert torch.equal(pooled_features(Tokens(), tokens), tokens[:, 1:].mean(1))
    stage = torch.randn(2, 4, 3, 3)
    assert torch.allclose(pooled_features(Tokens(), stage), stage.mean((2, 3)))
