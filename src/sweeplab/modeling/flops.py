"""The arithmetic a model does: floating-point operations counted from its layers' shapes and the batches it sees.

The benches divide it by the machine's measured peak to say how far a time is from what the hardware allows
(``bench/common.py``'s ``peak_flops``). Counted, as usual, as 2 per multiply-add of the layers that multiply:
``Conv1D``, ``Dense`` and the recurrent cells. An embedding lookup, pooling, dropout, masking and activations move
or compare numbers rather than multiply them, and count 0: on small models they are where much of the time goes,
which is the point of comparing against peak. A training step is counted as 3 forward passes (the backward pass
computes gradients for both activations and weights, about 2 forward passes' multiply-adds: the usual rule,
Kaplan et al. 2020); the optimizer's update is per weight, not per token, and left out.

Batches cut to their padding (:func:`~sweeplab.modeling.classifier.trimmed_batches`) have lengths that depend on
the order of the rows, so an epoch's count is its mean over seeded shuffles of the actual row lengths
(:func:`training_flops`); a prediction's chunks are in order and counted exactly (:func:`prediction_flops`).
"""

from __future__ import annotations

import functools

import numpy as np

from sweeplab.modeling.classifier import cut_width, length_buckets, lengths, prediction_chunks

TRAINING_FACTOR = 3  # forward + backward (activations' and weights' gradients), in forward passes
GATES = {"LSTM": 4, "GRU": 3, "SimpleRNN": 1}  # matrix products per step of each recurrent cell


def forward_flops(model, length: int) -> int:
    """One row of ``length`` token positions through ``model`` (a chain of layers, as the factories build)."""
    return _per_length(model)(int(length))


def training_flops(model, X, batch_size: int, epochs: float, trim: bool = True, buckets: int = 0, draws: int = 16,
                   seed: int = 0, multiple: int = 1) -> float:
    """Training ``model`` on the encoded rows ``X`` (padded token ids) for ``epochs`` epochs of ``batch_size``: each
    batch as long as its longest row plus the model's ``padding_margin`` (``trim``), else all of ``X``'s width;
    with ``buckets``, each batch from one length bucket; rounded up to a ``multiple`` of positions. The mean over
    ``draws`` shuffles when batches are cut (the lengths depend on the order); exact otherwise."""
    X = np.asarray(X)
    width, margin = X.shape[1], getattr(model, "padding_margin", None) if trim else None
    per_row = _per_length(model)
    if margin is None:
        return float(TRAINING_FACTOR * epochs * len(X) * per_row(width))
    found, rng = lengths(X), np.random.default_rng(seed)
    groups = [found[rows] for rows in length_buckets(found, buckets)]

    def one_epoch() -> float:
        return sum(len(rows) * per_row(cut_width(rows, margin, width, multiple)) for group in groups
                   for rows in np.array_split(rng.permutation(group), range(batch_size, len(group), batch_size)))

    return float(TRAINING_FACTOR * epochs * np.mean([one_epoch() for _ in range(draws)]))


def prediction_flops(model, X, trim: bool = True, multiple: int = 1) -> int:
    """One forward pass over ``X`` in :func:`~sweeplab.modeling.classifier.probabilities`' calls, each cut as it
    cuts them (rounded up to a ``multiple`` of positions)."""
    X = np.asarray(X)
    width, margin = X.shape[1], getattr(model, "padding_margin", None) if trim else None
    per_row, found = _per_length(model), lengths(X)
    return sum(len(rows) * per_row(width if margin is None else cut_width(found[rows], margin, width, multiple))
               for rows in prediction_chunks(X, margin, multiple))


@functools.lru_cache(maxsize=64)
def _per_length(model):
    """``length -> FLOPs of one row``, walking the layers once per length (cached: a bench asks for the same few
    lengths thousands of times)."""

    @functools.lru_cache(maxsize=None)
    def count(length: int) -> int:
        total, steps = 0, length
        for layer in model.layers:
            kind = type(layer).__name__
            if kind == "Conv1D":
                (kernel,), (stride,), (dilation,) = layer.kernel_size, layer.strides, layer.dilation_rate
                span = dilation * (kernel - 1) + 1
                steps = steps if layer.padding == "same" else max(0, (steps - span) // stride + 1)
                total += 2 * kernel * _width(layer) * layer.filters * steps
            elif kind == "Dense":
                positions = steps if len(layer.input.shape) == 3 else 1
                total += 2 * _width(layer) * layer.units * positions
            elif kind == "Bidirectional":
                total += sum(_recurrent(cell, _width(layer), steps)
                             for cell in (layer.forward_layer, layer.backward_layer))
                steps = steps if layer.return_sequences else 1
            elif kind in GATES:
                total += _recurrent(layer, _width(layer), steps)
                steps = steps if layer.return_sequences else 1
            elif kind in ("GlobalMaxPooling1D", "GlobalAveragePooling1D", "Flatten"):
                steps = 1
            elif layer.trainable_weights and kind != "Embedding":
                raise ValueError(f"flops: no rule for a {kind} layer ({layer.name}), which has weights")
        return total

    return count


def _width(layer) -> int:
    """The features of a layer's (first) input: a masked sequence reaches a wrapper as [sequence, mask]."""
    found = layer.input
    return (found[0] if isinstance(found, (list, tuple)) else found).shape[-1]


def _recurrent(layer, inputs: int, steps: int) -> int:
    """Every step of a recurrent layer multiplies its input and its state by each gate's matrices: it runs over
    every position, the masked ones included (a mask keeps the state, it does not skip the arithmetic)."""
    units = layer.units
    return 2 * GATES[type(layer).__name__] * (inputs + units) * units * steps
