"""The scikeras tags fix and the model factories, on tiny data with one epoch."""

import numpy as np
import pytest
from scikeras.wrappers import KerasClassifier
from sklearn.base import is_classifier
from sklearn.model_selection import StratifiedKFold, check_cv, cross_val_score

from sweeplab.modeling import factories, pipeline, registry
from sweeplab.modeling.baseline import baseline
from sweeplab.modeling.classifier import KerasTextClassifier
from sweeplab.modeling.vectorize import SequenceVectorizer

FAST = {"epochs": 1, "batch_size": 16, "maxlen": 12, "embedding_dim": 8}


def test_plain_scikeras_is_not_a_classifier_under_current_sklearn():
    # Why the fix exists; if this starts failing, scikeras was fixed upstream and the subclass can go.
    assert not is_classifier(KerasClassifier(model=factories.cnn))


def test_the_fix_restores_classifier_behaviour(tiny_texts):
    texts, labels = tiny_texts
    pipe = pipeline.build("cnn", FAST, seed=0)
    assert is_classifier(KerasTextClassifier(model=factories.cnn)) and is_classifier(pipe)
    assert isinstance(check_cv(4, labels, classifier=is_classifier(pipe)), StratifiedKFold)
    auc = cross_val_score(pipe, texts, labels, cv=2, scoring="roc_auc")
    assert auc.shape == (2,) and np.all((0 <= auc) & (auc <= 1))


def test_embedding_is_sized_by_the_vectorizers_capacity_not_the_fold(tiny_texts):
    # One shape for every fold of every path (sklearn's fresh fits, the trainer's reset model): max_words + 2 rows.
    texts, labels = tiny_texts
    shapes = set()
    for rows in (slice(0, 30), slice(30, 60)):
        fitted = pipeline.build("cnn", {**FAST, "max_words": 40}, seed=0).fit(texts[rows], labels[rows])
        shapes.add(fitted.named_steps["clf"].model_.get_layer("embedding").input_dim)
        assert fitted.named_steps["vectorize"].vocab_size_ < 40 + 2
    assert shapes == {40 + 2}


@pytest.mark.parametrize("model", sorted(registry.REGISTRY))
@pytest.mark.parametrize("n_classes", [2, 3])
def test_every_factory_fits_binary_and_multiclass(model, n_classes, tiny_texts):
    texts, labels = tiny_texts
    labels = np.arange(len(texts)) % n_classes
    params = {k: v for k, v in FAST.items() if k in pipeline.tunable(model)}
    fitted = pipeline.build(model, params, seed=0).fit(texts, labels)
    keras_model = fitted.named_steps["clf"].model_
    assert keras_model.output_shape[-1] == (1 if n_classes == 2 else n_classes)
    assert keras_model.loss == ("binary_crossentropy" if n_classes == 2 else "sparse_categorical_crossentropy")
    assert fitted.predict_proba(texts[:5]).shape == (5, n_classes)
    assert set(fitted.predict(texts)) <= set(range(n_classes))


def test_sweep_parameters_reach_the_right_step():
    pipe = pipeline.build("cnn", {"maxlen": 7, "num_filters": 3, "epochs": 2, "dropout": 0.5}, seed=1)
    params = pipe.get_params()
    assert params["vectorize__maxlen"] == 7 and params["clf__epochs"] == 2
    assert params["clf__model__num_filters"] == 3 and params["clf__model__dropout"] == 0.5
    with pytest.raises(KeyError, match="cnn takes no parameter 'units'"):
        pipeline.route("units", "cnn")


def test_baseline_is_bag_of_words_logistic_regression(tiny_texts):
    texts, labels = tiny_texts
    assert baseline().fit(texts, labels).score(texts, labels) == 1.0


@pytest.mark.parametrize("cell, layer", [("lstm", "LSTM"), ("gru", "GRU"), ("simple_rnn", "SimpleRNN")])
def test_rnn_cells_stack_and_go_both_ways(cell, layer, tiny_texts):
    texts, labels = tiny_texts
    params = {**FAST, "cell": cell, "units": 4, "n_layers": 2, "bidirectional": True, "dropout": 0.2}
    network = pipeline.build("rnn", params, seed=0).fit(texts, labels).named_steps["clf"].model_
    wrapped = [lay for lay in network.layers if type(lay).__name__ == "Bidirectional"]
    assert [type(w.forward_layer).__name__ for w in wrapped] == [layer, layer]
    assert wrapped[0].forward_layer.return_sequences and not wrapped[1].forward_layer.return_sequences
    assert network.get_layer("embedding").mask_zero  # padding does not reach the recurrent state


def _two_folds(texts, labels):
    """Two folds' token ids, each from its own vectorizer, as cross-validation makes them."""
    (a, b), (c, d) = StratifiedKFold(2, shuffle=True, random_state=0).split(texts, labels)
    folds = []
    for train in (a, c):
        vectorizer = SequenceVectorizer(maxlen=FAST["maxlen"]).fit(texts[train])
        folds.append((vectorizer.transform(texts[train]), labels[train], vectorizer.transform(texts)))
    return folds


def _classifier(**params):
    return pipeline.build("cnn", {**FAST, "epochs": 2}, seed=0).named_steps["clf"].set_params(**params)


def test_fit_again_reuses_the_model_and_matches_a_fresh_fit(tiny_texts):
    (X1, y1, _), (X2, y2, all2) = _two_folds(*tiny_texts)
    # Dropout: the reset must restart its seed state too, or the second fold draws other masks than a fresh model.
    shared = _classifier(model__dropout=0.5).fit(X1, y1)
    model = shared.model_
    shared.fit_again(X2, y2)
    fresh = _classifier(model__dropout=0.5).fit(X2, y2)
    assert shared.model_ is model  # built and traced once
    assert shared.model_.get_layer("embedding").input_dim == X1.capacity == X2.capacity
    np.testing.assert_allclose(shared.predict_proba(all2), fresh.predict_proba(all2), atol=1e-6)
    assert shared.history_["loss"] == pytest.approx(fresh.history_["loss"], abs=1e-6)


def test_fit_again_rebuilds_when_the_shape_differs(tiny_texts):
    (X1, y1, _), (X2, y2, _) = _two_folds(*tiny_texts)
    shared = _classifier().fit(X1, y1)  # its table has the first fold's rows only
    model = shared.model_
    bigger = X2.copy()
    bigger[0, 0] = shared.vocab_size_  # an id past its table
    shared.fit_again(bigger, y2)
    assert shared.model_ is not model and shared.vocab_size_ == int(bigger.max()) + 1


@pytest.mark.parametrize("model", ["cnn", "embedding_pool", "rnn"])
def test_cutting_padding_to_the_models_margin_leaves_its_output_unchanged(model, tiny_texts):
    from sweeplab.modeling.classifier import cut

    texts, labels = tiny_texts
    fitted = pipeline.build(model, {**FAST, "maxlen": 40, "epochs": 2}, seed=0).fit(texts, labels)
    keras_model = fitted.named_steps["clf"].model_
    X = np.asarray(fitted.named_steps["vectorize"].transform(texts))
    full = np.asarray(keras_model(X, training=False))
    shorter = cut(X, keras_model.padding_margin)
    assert shorter.shape[1] <= 7 + 5 < X.shape[1]  # the texts have 7 words; the widest margin is the kernel, 5
    np.testing.assert_allclose(np.asarray(keras_model(shorter, training=False)), full, rtol=0, atol=1e-6)
    np.testing.assert_allclose(fitted.predict_proba(texts)[:, -1], full[:, -1], rtol=0, atol=1e-6)
    if model == "cnn":  # the margin is needed: without a window wholly in padding the maximum can differ
        assert not np.allclose(np.asarray(keras_model(cut(X, 0), training=False)), full, rtol=0, atol=1e-6)


def _rows_of_many_lengths_and_a_cnn():
    """300 rows of token ids, 1 to 60 tokens each (padded to 60), and an untrained CNN that cuts its padding."""
    rng = np.random.default_rng(4)
    X = np.zeros((300, 60), dtype=np.int32)
    for row, length in zip(X, rng.integers(1, 61, 300)):
        row[:length] = rng.integers(2, 40, length)
    return X, factories.cnn({"vocab_size_": 40, "n_classes_": 2, "X_shape_": X.shape}, num_filters=4,
                            kernel_size=3, embedding_dim=5)


def test_predictions_run_in_length_sorted_calls_bounded_in_positions_and_come_back_in_order(monkeypatch):
    """Rows of very different lengths: each call holds rows of about one length, at most CHUNK_POSITIONS token
    positions once cut, every row once; the outputs are the full-length model's, in the rows' own order."""
    from sweeplab.modeling import classifier

    X, model = _rows_of_many_lengths_and_a_cnn()
    monkeypatch.setattr(classifier, "CHUNK_POSITIONS", 1000)
    chunks = classifier.prediction_chunks(X, model.padding_margin)
    assert sorted(np.concatenate(chunks).tolist()) == list(range(300))
    widths = [classifier.cut(X[rows], model.padding_margin).shape[1] for rows in chunks]
    assert all(len(rows) * width <= 1000 for rows, width in zip(chunks, widths))
    assert len(chunks) < 2 * sum(classifier.lengths(X) + 3) / 1000 + 2  # about as many calls as the positions need
    np.testing.assert_allclose(classifier.probabilities(model, X), np.asarray(model(X, training=False)),
                               rtol=0, atol=1e-6)
    full = classifier.prediction_chunks(X, None)
    assert [len(rows) for rows in full] == [16] * 18 + [12] and np.array_equal(np.concatenate(full), np.arange(300))


def test_prediction_calls_padded_to_a_multiple_have_few_shapes_and_the_same_outputs(monkeypatch):
    """``pad_to_multiple_of`` rounds each prediction call's width up as it rounds training batches: oneDNN compiles
    kernels per tensor shape, and a fold's validation calls otherwise have nearly one shape each."""
    from sweeplab.modeling import classifier

    X, model = _rows_of_many_lengths_and_a_cnn()
    monkeypatch.setattr(classifier, "CHUNK_POSITIONS", 1000)

    def shapes(multiple):
        chunks = classifier.prediction_chunks(X, model.padding_margin, multiple)
        assert sorted(np.concatenate(chunks).tolist()) == list(range(300))
        return {classifier.cut(X[rows], model.padding_margin, multiple).shape for rows in chunks}

    exact, padded = shapes(1), shapes(16)
    assert {width for _, width in padded} <= {16, 32, 48, 60} and len(padded) <= 8 < len(exact)
    assert all(rows * width <= 1000 for rows, width in padded)
    np.testing.assert_allclose(classifier.probabilities(model, X, multiple=16), classifier.probabilities(model, X),
                               rtol=0, atol=1e-6)


def test_bucketed_batches_hold_rows_of_one_bucket_every_row_once_an_epoch():
    """buckets: 4 over rows of lengths 1..60: every batch within one bucket, every row once per epoch, as many
    batches as batches_per_epoch says (what Keras is told an epoch is), a new order each epoch, and far less
    padding than random batches."""
    from sweeplab.modeling.classifier import batches_per_epoch, bucket_boundaries, lengths, trimmed_batches

    rng = np.random.default_rng(5)
    X = np.zeros((203, 60), dtype=np.int32)
    for row, length in zip(X, rng.integers(1, 61, 203)):
        row[:length] = 7
    found = lengths(X)
    edges = bucket_boundaries(found, 4)
    assert len(edges) == 3
    bucket = np.searchsorted(edges, found, side="right")
    steps = batches_per_epoch(found, 16, 4)
    assert steps == sum(-(-int(np.sum(bucket == b)) // 16) for b in range(4))
    epochs = []
    stream = trimmed_batches(X, np.arange(203), 16, margin=2, seed=0, endless=True, buckets=4)
    batches = [(x.numpy(), y.numpy()) for x, y in stream.take(2 * steps)]
    for epoch in (batches[:steps], batches[steps:]):
        rows = np.concatenate([y for _, y in epoch])
        assert sorted(rows.tolist()) == list(range(203))  # each row once
        assert all(len(set(bucket[y])) == 1 for _, y in epoch)  # each batch from one bucket
        assert all(x.shape[1] == min(60, found[y].max() + 2) for x, y in epoch)  # cut as before
        epochs.append(rows.tolist())
    assert epochs[0] != epochs[1]
    at_random = [x.shape[1] for x, _ in trimmed_batches(X, np.arange(203), 16, margin=2, seed=0)]
    assert np.mean([x.shape[1] for x, _ in batches]) < 0.75 * np.mean(at_random)
    assert bucket_boundaries(found, 1) == [] and batches_per_epoch(found, 16) == 13


def test_training_batches_are_cut_to_their_longest_row(tiny_texts):
    from sweeplab.modeling.classifier import trimmed_batches

    X = np.zeros((6, 50), dtype=np.int32)
    for row, length in enumerate([3, 9, 2, 5, 1, 4]):
        X[row, :length] = 7
    assert [x.shape[1] for x, _ in trimmed_batches(X, np.arange(6), 3, margin=2, seed=0, shuffle=False)] == [11, 7]
    endless = trimmed_batches(X, np.arange(6), 3, margin=2, seed=0, shuffle=False, endless=True)
    assert [x.shape[1] for x, _ in endless.take(4)] == [9 + 2, 5 + 2] * 2  # epoch after epoch
    orders = [[[int(y) for y in ys] for _, ys in trimmed_batches(X, np.arange(6), 6, 2, 0, endless=True).take(2)]
              for _ in range(2)]
    assert orders[0] == orders[1]  # the same seed, the same order
    assert orders[0][0] != list(range(6)) and orders[0][0] != orders[0][1]  # shuffled, anew each epoch


@pytest.mark.parametrize("multiple, widths", [(1, [11, 7]), (4, [12, 8]), (8, [16, 8]), (16, [16, 16]),
                                              (64, [50, 50])])
def test_pad_to_multiple_of_rounds_each_batch_up_and_never_past_the_rows(multiple, widths, tiny_texts):
    """The batches of the test above (longest rows 9 and 5, margin 2) rounded up to a multiple of positions, at
    most the rows' own 50; the flop count and the prediction cut follow the same rule, and a model's output
    on the rounded batch is the one it gives on the full rows."""
    from sweeplab.modeling.classifier import cut_width, trimmed_batches

    X = np.zeros((6, 50), dtype=np.int32)
    for row, length in enumerate([3, 9, 2, 5, 1, 4]):
        X[row, :length] = 7
    batches = trimmed_batches(X, np.arange(6), 3, margin=2, seed=0, shuffle=False, multiple=multiple)
    assert [x.shape[1] for x, _ in batches] == widths
    assert [cut_width(np.array(rows), 2, 50, multiple) for rows in ([3, 9, 2], [5, 1, 4])] == widths
    texts, labels = tiny_texts
    pipe = pipeline.build("cnn", {**FAST, "pad_to_multiple_of": multiple, "kernel_size": 2}, seed=0)
    fitted = pipe.fit(texts, labels).named_steps["clf"]
    encoded = pipe.named_steps["vectorize"].transform(texts)
    stream, _, _, steps = fitted.stream(encoded, labels)  # as the classifier trains
    assert all(x.shape[1] % multiple == 0 or x.shape[1] == encoded.shape[1] for x, _ in stream.take(steps))
    cut = encoded[:, :cut_width(np.array([int((row != 0).sum()) for row in encoded]), 2, encoded.shape[1], multiple)]
    np.testing.assert_allclose(fitted.model_(cut).numpy(), fitted.model_(encoded).numpy(), rtol=1e-6)


def test_a_scored_model_is_freed_with_its_compiled_forward_pass():
    # The compiled function is kept per model while the model lives; one that held the model itself kept every
    # trial's model and graphs alive (bench/scaling.py: +1.4 GB over 90 trials).
    import gc
    import weakref

    import keras

    from sweeplab.modeling import classifier

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    first = classifier.probabilities(model, np.ones((3, 4), np.float32), trim=False)
    assert np.array_equal(first, classifier.probabilities(model, np.ones((3, 4), np.float32), trim=False))
    gone = weakref.ref(model)
    del model
    gc.collect()
    assert gone() is None


def test_mixed_bfloat16_computes_in_bfloat16_on_float32_weights_and_leaves_the_policy_as_it_was(tiny_texts):
    """``precision: mixed_bfloat16``: the layers compute in bfloat16 and keep float32 weights, the output layer
    computes in float32 (probabilities, and the loss, at full precision), and the process's Keras policy is float32
    again once the model is built."""
    import keras

    texts, labels = tiny_texts
    fitted = pipeline.build("cnn", {**FAST, "precision": "mixed_bfloat16"}, seed=0).fit(texts, labels)
    model = fitted.named_steps["clf"].model_
    conv = next(layer for layer in model.layers if layer.name.startswith("conv1d"))
    assert conv.compute_dtype == "bfloat16" and conv.kernel.dtype == "float32"
    assert model.get_layer("output").compute_dtype == "float32"
    assert fitted.predict_proba(texts[:3]).dtype == np.float32 and np.isfinite(fitted.named_steps["clf"].history_[
        "loss"]).all()
    assert keras.config.dtype_policy().name == "float32"
    plain = pipeline.build("cnn", FAST, seed=0).fit(texts, labels).named_steps["clf"].model_
    assert all(layer.compute_dtype == "float32" for layer in plain.layers if hasattr(layer, "compute_dtype"))


def test_a_factory_whose_output_would_compute_in_bfloat16_is_refused_by_name(tiny_texts):
    """A plugin factory that leaves its last layer to the policy gets bfloat16 probabilities under mixed_bfloat16:
    the fit fails with what to change, rather than training on a loss rounded to 3 digits."""
    from tests.plugin_factories import tiny_dense

    texts, labels = tiny_texts
    vectorized = SequenceVectorizer(maxlen=12).fit_transform(texts)
    classifier = KerasTextClassifier(model=tiny_dense, precision="mixed_bfloat16", epochs=1, verbose=0,
                                     random_state=0)
    with pytest.raises(ValueError, match=r"mixed_bfloat16: the model's output computes in bfloat16; give the "
                                         r"factory's last layer dtype=\"float32\""):
        classifier.fit(vectorized, labels)
    plain = KerasTextClassifier(model=tiny_dense, epochs=1, verbose=0, random_state=0)
    assert plain.fit(vectorized, labels).model_ is not None


def test_fit_again_reuses_a_model_that_takes_any_length_at_another_width(tiny_texts):
    """Folds with ``maxlen`` from a percentile of their own texts have other widths: a model whose input takes any
    length is the same model for both, so the next fold reuses it, and matches a fresh fit of that fold."""
    (X1, y1, _), (X2, y2, all2) = _two_folds(*tiny_texts)
    wider, all_wider = (np.pad(X, ((0, 0), (0, 3))).view(type(X)) for X in (X2, all2))
    for padded, original in ((wider, X2), (all_wider, all2)):
        padded.vocabulary, padded.capacity = original.vocabulary, original.capacity
    shared = _classifier(model__dropout=0.5).fit(X1, y1)
    model = shared.model_
    shared.fit_again(wider, y2)
    fresh = _classifier(model__dropout=0.5).fit(wider, y2)
    assert shared.model_ is model and shared.n_features_in_ == wider.shape[1] == X1.shape[1] + 3
    np.testing.assert_allclose(shared.predict_proba(all_wider), fresh.predict_proba(all_wider), atol=1e-6)
    assert shared.history_["loss"] == pytest.approx(fresh.history_["loss"], abs=1e-6)


def test_fit_again_rebuilds_a_model_of_one_length_at_another_width(tiny_texts):
    from tests.plugin_factories import tiny_dense

    (X1, y1, _), (X2, y2, _) = _two_folds(*tiny_texts)
    shared = KerasTextClassifier(model=tiny_dense, epochs=1, verbose=0, random_state=0).fit(X1, y1)
    model = shared.model_
    shared.fit_again(X2[:, :-2], y2)  # its Input has the first fold's width
    assert shared.model_ is not model and shared.model_.inputs[0].shape[1] == X1.shape[1] - 2
