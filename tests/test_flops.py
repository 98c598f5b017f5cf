"""The arithmetic count the benches divide by the machine's peak (sweeplab.modeling.flops): checked against
TensorFlow's own per-op FLOP registry where it can count, by hand where it cannot (loops), and against the batches
the training stream really cuts."""

import numpy as np
import pytest

from sweeplab.modeling import factories, flops

META = {"vocab_size_": 60, "n_classes_": 2, "X_shape_": (None, 40)}


def registered_flops(model, length: int) -> int:
    """What TensorFlow's profiler counts for the multiplying ops of one row through ``model``, traced at a fixed
    length (the registry needs every shape known)."""
    import tensorflow as tf
    from tensorflow.python.framework import ops
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    traced = tf.function(lambda x: model(x, training=False)).get_concrete_function(
        tf.TensorSpec([1, length], tf.int32))
    graph = convert_variables_to_constants_v2(traced).graph
    return sum(ops.get_stats_for_node_def(graph, op.node_def, "flops").value or 0
               for op in graph.get_operations() if op.type in ("Conv2D", "MatMul"))


@pytest.mark.parametrize("model, length", [
    (lambda: factories.cnn(META, num_filters=6, kernel_size=3, embedding_dim=8, dense_units=5), 30),
    (lambda: factories.cnn(META, num_filters=4, kernel_size=7, embedding_dim=5, dense_units=3), 7),
    (lambda: factories.embedding_pool(META, embedding_dim=9, dense_units=4), 12),
    (lambda: factories.flatten(META, embedding_dim=3, dense_units=4), 40),
])
def test_a_model_counts_what_tensorflow_s_flop_registry_counts(model, length):
    model = model()
    assert flops.forward_flops(model, length) == registered_flops(model, length) > 0


def test_a_recurrent_layer_multiplies_each_gate_at_every_position():
    """Two stacked bidirectional GRUs over 30 positions: 3 gates of (input + units) x units per step and direction,
    masked positions included, then the head on the last layer's 2 x units features."""
    model = factories.rnn(META, cell="gru", units=7, n_layers=2, bidirectional=True, embedding_dim=8, dense_units=5)
    gru = [2 * 3 * (8 + 7) * 7 * 30 * 2, 2 * 3 * (14 + 7) * 7 * 30 * 2]
    assert flops.forward_flops(model, 30) == sum(gru) + 2 * 14 * 5 + 2 * 5 * 1
    lstm = factories.rnn(META, cell="lstm", units=4, embedding_dim=6, dense_units=2)
    assert flops.forward_flops(lstm, 10) == 2 * 4 * (6 + 4) * 4 * 10 + 2 * 4 * 2 + 2 * 2


def test_training_counts_the_batches_the_stream_cuts():
    """The mean over shuffles is what the tf.data stream really feeds, within a few per cent; without cutting
    every batch is the full width, exactly."""
    from sweeplab.modeling.classifier import trimmed_batches

    rng = np.random.default_rng(3)
    row_lengths = np.minimum(rng.geometric(0.12, 300), 40)
    X = np.zeros((300, 40), dtype=np.int32)
    for row, n in zip(X, row_lengths):
        row[:n] = rng.integers(1, 60, n)
    model = factories.cnn(META, num_filters=8, kernel_size=5, embedding_dim=6, dense_units=4)
    fed = [flops.TRAINING_FACTOR * len(x) * flops.forward_flops(model, x.shape[1])
           for x, _ in trimmed_batches(X, np.zeros(300), 16, model.padding_margin, seed=7, endless=True).take(19 * 40)]
    counted = flops.training_flops(model, X, batch_size=16, epochs=40)
    assert counted == pytest.approx(sum(fed), rel=0.02)
    assert counted < flops.training_flops(model, X, batch_size=16, epochs=40, trim=False)
    assert flops.training_flops(model, X, batch_size=16, epochs=2, trim=False) == (
        2 * flops.TRAINING_FACTOR * 300 * flops.forward_flops(model, 40))


def test_bucketed_training_counts_the_bucketed_batches():
    from sweeplab.modeling.classifier import batches_per_epoch, lengths, trimmed_batches

    rng = np.random.default_rng(4)
    X = np.zeros((300, 40), dtype=np.int32)
    for row, n in zip(X, rng.integers(1, 41, 300)):
        row[:n] = rng.integers(1, 60, n)
    model = factories.cnn(META, num_filters=4, kernel_size=3, embedding_dim=6, dense_units=4)
    steps = batches_per_epoch(lengths(X), 16, 5)
    stream = trimmed_batches(X, np.zeros(300), 16, model.padding_margin, seed=7, endless=True, buckets=5)
    fed = [flops.TRAINING_FACTOR * len(x) * flops.forward_flops(model, x.shape[1]) for x, _ in stream.take(steps * 30)]
    counted = flops.training_flops(model, X, batch_size=16, epochs=30, buckets=5)
    assert counted == pytest.approx(sum(fed), rel=0.02)
    assert counted < 0.8 * flops.training_flops(model, X, batch_size=16, epochs=30)


def test_a_prediction_counts_the_calls_the_prediction_makes(monkeypatch):
    """The count against the calls ``probabilities`` really makes (several, each cut to its rows), and at full
    width without cutting."""
    from sweeplab.modeling import classifier

    model = factories.cnn(META, num_filters=4, kernel_size=3, embedding_dim=5, dense_units=2)
    rng = np.random.default_rng(6)
    X = np.zeros((120, 40), dtype=np.int32)
    for row, n in zip(X, rng.integers(1, 41, 120)):
        row[:n] = 5
    monkeypatch.setattr(classifier, "CHUNK_POSITIONS", 300)
    fed, cut = [], classifier.cut

    def watched(rows, margin, multiple=1):
        fed.append(cut(rows, margin, multiple).shape)
        return cut(rows, margin, multiple)

    monkeypatch.setattr(classifier, "cut", watched)
    classifier.probabilities(model, X)
    assert len(fed) > 5
    assert flops.prediction_flops(model, X) == sum(rows * flops.forward_flops(model, width) for rows, width in fed)
    fed.clear()
    classifier.probabilities(model, X, multiple=16)
    assert flops.prediction_flops(model, X, multiple=16) == sum(rows * flops.forward_flops(model, width)
                                                                for rows, width in fed)
    assert flops.prediction_flops(model, X, multiple=16) > flops.prediction_flops(model, X)
    assert flops.prediction_flops(model, X, trim=False) == 120 * flops.forward_flops(model, 40)


def test_a_layer_with_weights_and_no_rule_is_refused_rather_than_counted_as_nothing():
    import keras

    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(10, 4)(inputs)
    x = keras.layers.LayerNormalization()(x)
    model = keras.Model(inputs, keras.layers.GlobalMaxPooling1D()(x))
    with pytest.raises(ValueError, match="no rule for a LayerNormalization layer"):
        flops.forward_flops(model, 5)
