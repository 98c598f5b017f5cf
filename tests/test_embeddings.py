"""Pretrained vectors: reading GloVe's text format, the matrix for a fitted vocabulary, its coverage, and what a
model does with them (width from the file, frozen unless trainable)."""

import numpy as np
import pytest

from sweeplab.data import embeddings
from sweeplab.errors import SweepLabError
from sweeplab.modeling import pipeline


def test_the_glove_subset_reads_whole(glove_file):
    vectors = embeddings.load_vectors(glove_file)
    assert vectors.width == 50 and len(vectors.index) == 21211 and vectors.matrix.dtype == np.float32
    assert embeddings.width(glove_file) == 50
    assert embeddings.load_vectors(glove_file) is vectors  # read once per process


def test_the_matrix_follows_the_fitted_vocabulary(glove_file):
    vocabulary = {"the": 2, "zzqxv": 3, "good": 4, "awsome": 5}  # two words GloVe has, two it has not
    pretrained = embeddings.for_vocabulary(vocabulary, glove_file, trainable=False, seed=0)
    vectors = embeddings.load_vectors(glove_file)
    assert pretrained.matrix.shape == (6, 50) and pretrained.coverage == 0.5 and not pretrained.trainable
    np.testing.assert_array_equal(pretrained.matrix[2], vectors.matrix[vectors.index["the"]])
    assert not pretrained.matrix[0].any()  # padding
    assert pretrained.matrix[3].any() and 0 < pretrained.matrix[3].std() < 3 * vectors.matrix.std()
    again = embeddings.for_vocabulary(vocabulary, glove_file, trainable=False, seed=0)
    np.testing.assert_array_equal(again.matrix, pretrained.matrix)  # seeded: a trial can be repeated


@pytest.mark.parametrize("text, fragment", [
    ("a 1 2\nb 1\n", ":2: expected a word and 2 numbers"),
    ("a 1 x\n", "a vector has a value that is not a number"),
    ("", "no vectors in it"),
])
def test_a_broken_vectors_file_is_one_line(tmp_path, text, fragment):
    path = tmp_path / f"v{len(text)}.txt"
    path.write_text(text)
    with pytest.raises(SweepLabError, match=fragment):
        embeddings.load_vectors(path)
    with pytest.raises(SweepLabError, match="embeddings file not found"):
        embeddings.load_vectors(tmp_path / "missing.txt")


@pytest.mark.parametrize("trainable", [False, True])
def test_a_model_starts_from_the_vectors(glove_file, tiny_texts, trainable):
    texts, labels = tiny_texts
    params = {"epochs": 2, "maxlen": 12, "num_filters": 4, "kernel_size": 3, "learning_rate": 0.05,
              "embeddings": str(glove_file), "embeddings_trainable": trainable}
    fitted = pipeline.build("cnn", params, seed=0).fit(texts, labels)
    layer = fitted.named_steps["clf"].model_.get_layer("embedding")
    assert layer.output_dim == 50 and layer.trainable == trainable  # the width is the file's, not embedding_dim
    row = fitted.named_steps["vectorize"].vocabulary_["great"]
    vectors = embeddings.load_vectors(glove_file)
    weights = layer.get_weights()[0]
    assert np.array_equal(weights[row], vectors.matrix[vectors.index["great"]]) != trainable
    coverage = pipeline.facts(fitted)["embedding_coverage"]
    assert coverage == 1.0  # every tiny_texts word is common English
