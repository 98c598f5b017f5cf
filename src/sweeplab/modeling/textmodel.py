"""The deliverable of a sweep: one Keras model that takes raw strings and returns class probabilities.

A fitted Pipeline(vectorize, clf) is folded into a single ``.keras`` file: a :class:`TextToSequence` layer carrying
the vocabulary learned in training, the trained network, and a :class:`ClassProbabilities` layer carrying the
original label names. Nothing else has to travel with the model, so it cannot drift from its tokenizer.

``TextToSequence`` re-implements :func:`sweeplab.modeling.vectorize.tokenize` with TensorFlow string ops (RE2 has no
lookarounds, hence the apostrophe passes); ``tests/test_textmodel.py`` checks the two agree token for token on
every UCI sentence. The layers are registered with Keras under ``sweeplab>``, so loading needs ``import
sweeplab.modeling.textmodel`` first (``load_text_model`` does it) and works in Keras' safe mode.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from sweeplab.errors import SweepLabError, first_line
from sweeplab.modeling.vectorize import BagOfWordsVectorizer

INPUT = "text"
BATCH = 1024


@keras.saving.register_keras_serializable(package="sweeplab")
class TextToSequence(keras.layers.Layer):
    """Raw strings to ``maxlen`` token ids: 0 pads, 1 is out of vocabulary, ``vocabulary[i]`` is ``i + 2``."""

    def __init__(self, vocabulary: list[str], maxlen: int, **kwargs):
        kwargs["trainable"] = False
        super().__init__(**kwargs)
        self.vocabulary = list(vocabulary)
        self.maxlen = int(maxlen)
        # mask_token "" takes id 0 and the single OOV bucket id 1, exactly the SequenceVectorizer's layout.
        self.lookup = keras.layers.StringLookup(vocabulary=self.vocabulary, mask_token="", num_oov_indices=1,
                                                output_mode="int")

    def build(self, input_shape=None):
        self.built = True  # nothing to build: the lookup table is complete from the start

    def call(self, texts):
        tokens = tokenize(tf.reshape(texts, [-1]))
        ids = tf.ragged.map_flat_values(self.lookup, tokens)
        return tf.cast(ids.to_tensor(default_value=0, shape=[None, self.maxlen]), "int32")

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.maxlen)

    def get_config(self):
        return {**super().get_config(), "vocabulary": self.vocabulary, "maxlen": self.maxlen}


@keras.saving.register_keras_serializable(package="sweeplab")
class TextToBagOfWords(keras.layers.Layer):
    """Raw strings to :class:`~sweeplab.modeling.vectorize.BagOfWordsVectorizer` vectors: column 0 counts the words
    outside ``vocabulary``, column ``i + 1`` the word ``vocabulary[i]``; ``mode`` binary, count or tfidf (with ``idf``,
    whose first entry is column 0's)."""

    MODES = {"binary": "multi_hot", "count": "count", "tfidf": "tf_idf"}

    def __init__(self, vocabulary: list[str], mode: str, idf: list[float] | None = None, **kwargs):
        kwargs["trainable"] = False
        super().__init__(**kwargs)
        self.vocabulary, self.mode = list(vocabulary), mode
        self.idf = None if idf is None else [float(v) for v in idf]
        # StringLookup's tf_idf gives out-of-vocabulary words the mean idf, as the Python vectorizer does.
        weights = {"idf_weights": self.idf[1:]} if mode == "tfidf" else {}
        self.lookup = keras.layers.StringLookup(vocabulary=self.vocabulary, num_oov_indices=1,
                                                output_mode=self.MODES[mode], **weights)

    def build(self, input_shape=None):
        self.built = True

    def call(self, texts):
        return tf.cast(self.lookup(tokenize(tf.reshape(texts, [-1]))), "float32")

    def compute_output_shape(self, input_shape):
        return (input_shape[0], len(self.vocabulary) + 1)

    def get_config(self):
        return {**super().get_config(), "vocabulary": self.vocabulary, "mode": self.mode, "idf": self.idf}


def tokenize(texts):
    """TensorFlow twin of :func:`sweeplab.modeling.vectorize.tokenize`: lowercase runs of letters and digits, inner
    apostrophes kept ("don't" is one token), as a ragged tensor of tokens per text."""
    texts = tf.strings.lower(texts, encoding="utf-8")
    texts = tf.strings.regex_replace(texts, r"[^\pL\pN']+", " ")
    texts = tf.strings.regex_replace(texts, r"''+", " ")  # a run of apostrophes ends a token
    texts = tf.strings.regex_replace(texts, r"(^| )'", " ")  # so does one not between two word characters
    texts = tf.strings.regex_replace(texts, r"'( |$)", " ")
    return tf.strings.split(texts)


@keras.saving.register_keras_serializable(package="sweeplab")
class ClassProbabilities(keras.layers.Layer):
    """One probability column per class, and the original label names (``classes``) kept in the model file.

    A binary network ends in one sigmoid unit; this turns it into the two columns [P(classes[0]), P(classes[1])].
    """

    def __init__(self, classes: list, **kwargs):
        kwargs["trainable"] = False
        super().__init__(**kwargs)
        self.classes = list(classes)

    def call(self, outputs):
        if len(self.classes) == 2:
            return keras.ops.concatenate([1.0 - outputs, outputs], axis=-1)
        return outputs

    def compute_output_shape(self, input_shape):
        return (input_shape[0], len(self.classes))

    def get_config(self):
        return {**super().get_config(), "classes": self.classes}


def from_pipeline(pipe, classes: list):
    """The end-to-end model of a fitted Pipeline(vectorize, clf) whose labels 0..K-1 stand for ``classes``."""
    vectorizer, network = pipe.named_steps["vectorize"], pipe.named_steps["clf"].model_
    words = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)
    texts = keras.Input(shape=(1,), dtype="string", name=INPUT)
    if isinstance(vectorizer, BagOfWordsVectorizer):
        idf = vectorizer.idf_.tolist() if vectorizer.mode == "tfidf" else None
        features = TextToBagOfWords(words, vectorizer.mode, idf, name="text_to_bag_of_words")(texts)
    else:
        features = TextToSequence(words, vectorizer.maxlen_, name="text_to_sequence")(texts)
    probabilities = ClassProbabilities(_plain(classes), name="class_probabilities")(network(features))
    return keras.Model(texts, probabilities, name=f"{network.name}_raw_text")


def _plain(classes) -> list:
    """Label names as JSON-friendly Python values (numpy ints would not survive the model's config)."""
    return [c.item() if isinstance(c, np.generic) else c for c in classes]


def save(model, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return path


def load_text_model(path: str | Path):
    path = Path(path)
    if not path.is_file():
        raise SweepLabError(f"{path}: model file not found")
    try:
        # safe_mode refuses lambdas and other code hidden in the file; our layers are registered classes.
        model = keras.saving.load_model(path, safe_mode=True)
    except (ValueError, OSError) as exc:
        raise SweepLabError(f"{path}: not a sweeplab .keras model ({first_line(exc)})") from None
    if not classes_of(model):
        raise SweepLabError(f"{path}: a Keras model, but not a sweeplab raw-text model (no class_probabilities)")
    return model


def classes_of(model) -> list:
    for layer in model.layers:
        if isinstance(layer, ClassProbabilities):
            return layer.classes
    return []


# What one call labels at most: the served model's documented bounds (a larger request is refused, not queued).
MAX_TEXTS = 100_000
MAX_TEXT_CHARS = 1 << 20  # a text longer than a line sweeplab reads anywhere (sweeplab.files.MAX_LINE_CHARS)


def check_texts(texts) -> list[str]:
    """``texts`` as a list, refused in one line unless every one is a string (a null or a number is not text:
    ``str()`` would label "None" and "5") and within :data:`MAX_TEXTS` and :data:`MAX_TEXT_CHARS`."""
    from sweeplab.files import describe

    texts = list(texts)
    if len(texts) > MAX_TEXTS:
        raise SweepLabError(f"{len(texts):,} texts in one call, at most {MAX_TEXTS:,}: send them in parts")
    for number, text in enumerate(texts, start=1):
        if not isinstance(text, str):
            raise SweepLabError(f"text {number}: expected a string, got {'null' if text is None else describe(text)}")
        if len(text) > MAX_TEXT_CHARS:
            raise SweepLabError(f"text {number}: {len(text):,} characters, at most {MAX_TEXT_CHARS:,}")
    return texts


def predict(model, texts):
    """A DataFrame: label, its probability and every class's probability (p_<label>), one row per text (strings
    only: :func:`check_texts`)."""
    import pandas as pd

    classes = classes_of(model)
    texts = np.asarray(check_texts(texts), dtype=object).reshape(-1, 1)
    # Direct calls in chunks: model.predict would build a tf.data pipeline, slower than the work for a few texts.
    chunks = [model(tf.constant(texts[i:i + BATCH]), training=False).numpy()
              for i in range(0, len(texts), BATCH)]
    probabilities = np.concatenate(chunks) if chunks else np.zeros((0, len(classes)))
    best = probabilities.argmax(axis=1)
    frame = pd.DataFrame({"label": [classes[i] for i in best], "probability": probabilities.max(axis=1)})
    for column, name in enumerate(classes):
        frame[f"p_{name}"] = probabilities[:, column]
    return frame
