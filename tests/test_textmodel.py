"""The raw-text Keras model: its tokenizer agrees with the vectorizer's, it predicts what its pipeline predicts,
and it survives a save and a safe-mode load with its label names."""

import numpy as np
import pytest
import tensorflow as tf  # a hard dependency: a broken import must fail these tests, not skip them

from sweeplab import data
from sweeplab.errors import SweepLabError
from sweeplab.modeling import pipeline, textmodel, vectorize

TRICKY = [
    "Don't 'quote' me", "rock'n'roll", "can''t", "x' 'y", "'a", "b'", "ÉCOLE naïve café", "under_score",
    "İstanbul", "ΣΊΣΥΦΟΣ", "½ price ²", "日本語のテキスト", "a\u0085b", "tab\tsep", "émoji 😀 ok", "ß STRASSE",
    "", "   ", "...!!!", "10/10 would eat again", "e-mail me @ x.y",
]


def test_the_tensorflow_tokenizer_matches_the_vectorizer_on_every_uci_sentence(uci_dir):
    texts = [t for name in data.SOURCES for t in data.load_source(name, uci_dir).texts] + TRICKY
    tokens = textmodel.tokenize(tf.constant(texts)).to_list()
    mismatches = [(text, vectorize.tokenize(text), [w.decode() for w in got])
                  for text, got in zip(texts, tokens) if vectorize.tokenize(text) != [w.decode() for w in got]]
    assert not mismatches[:5] and len(texts) == 3000 + len(TRICKY)


def fitted(texts, labels, **params):
    return pipeline.build("cnn", {"epochs": 2, "num_filters": 8, "kernel_size": 3, "embedding_dim": 8,
                                  "maxlen": 12, **params}, seed=0).fit(texts, labels)


def test_the_raw_text_model_predicts_what_its_pipeline_predicts(tiny_texts, tmp_path):
    texts, labels = tiny_texts
    pipe = fitted(texts, labels, learning_rate=0.05)
    model = textmodel.from_pipeline(pipe, ["negative", "positive"])
    unseen = np.array(["great film", "awful phone", "zzz unknown words only", "GREAT!!!", ""], dtype=object)
    frame = textmodel.predict(model, unseen)
    assert list(frame.columns) == ["label", "probability", "p_negative", "p_positive"]
    expected = pipe.predict_proba(unseen)
    np.testing.assert_allclose(frame[["p_negative", "p_positive"]].to_numpy(), expected, atol=1e-5)
    assert list(frame["label"]) == [["negative", "positive"][i] for i in expected.argmax(axis=1)]

    path = textmodel.save(model, tmp_path / "nested" / "model.keras")
    again = textmodel.load_text_model(path)
    assert textmodel.classes_of(again) == ["negative", "positive"]
    np.testing.assert_allclose(textmodel.predict(again, unseen)["probability"], frame["probability"], atol=1e-6)
    assert textmodel.predict(again, []).empty


def test_three_classes_keep_their_names_and_sum_to_one(tiny_texts):
    texts, _ = tiny_texts
    labels = np.arange(len(texts)) % 3
    model = textmodel.from_pipeline(fitted(texts, labels), [10, 20, 30])
    frame = textmodel.predict(model, texts[:7])
    assert set(frame["label"]) <= {10, 20, 30}
    np.testing.assert_allclose(frame[["p_10", "p_20", "p_30"]].sum(axis=1), 1.0, atol=1e-5)


def test_loading_refuses_what_is_not_a_sweeplab_model(tmp_path):
    import keras

    with pytest.raises(SweepLabError, match="model file not found"):
        textmodel.load_text_model(tmp_path / "missing.keras")
    (tmp_path / "junk.keras").write_bytes(b"not a zip")
    with pytest.raises(SweepLabError, match="junk.keras: not a sweeplab .keras model"):
        textmodel.load_text_model(tmp_path / "junk.keras")
    inputs = keras.Input(shape=(3,))
    plain = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    plain.save(tmp_path / "plain.keras")
    with pytest.raises(SweepLabError, match="not a sweeplab raw-text model"):
        textmodel.load_text_model(tmp_path / "plain.keras")


@pytest.mark.parametrize("model, params", [
    ("embedding_pool", {}), ("flatten", {}), ("rnn", {"cell": "gru", "bidirectional": True, "units": 4}),
    ("embedding_pool", {"maxlen_percentile": 50.0}),  # the raw-text layer takes the resolved length
    ("bow_dense", {"mode": "binary"}), ("bow_dense", {"mode": "count"}), ("bow_dense", {"mode": "tfidf"}),
])
def test_every_family_folds_into_a_raw_text_model(model, params, tiny_texts):
    texts, labels = tiny_texts
    sequence = {"embedding_dim": 8, "maxlen": 12} if model != "bow_dense" else {}
    pipe = pipeline.build(model, {"epochs": 1, **sequence, **params}, seed=0)
    pipe.fit(texts, labels)
    frame = textmodel.predict(textmodel.from_pipeline(pipe, [0, 1]), texts[:10])
    np.testing.assert_allclose(frame[["p_0", "p_1"]].to_numpy(), pipe.predict_proba(texts[:10]), atol=1e-5)
