"""The text-to-sequence step: no leakage across folds, and the vocabulary promises the model relies on."""

from collections import Counter

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.dummy import DummyClassifier
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.pipeline import Pipeline

from sweeplab.modeling.vectorize import SequenceVectorizer, Tokens, tokenize


def test_a_word_seen_only_in_a_validation_fold_is_out_of_vocabulary(tiny_texts):
    texts, labels = tiny_texts
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    _, validation = next(cv.split(texts, labels))
    texts = texts.copy()
    texts[validation[0]] = "zebra " + texts[validation[0]]  # the word exists in this validation fold only

    pipe = Pipeline([("vectorize", SequenceVectorizer(maxlen=12)), ("clf", DummyClassifier())])
    fitted = cross_validate(pipe, texts, labels, cv=cv, return_estimator=True)["estimator"][0]
    vectorizer = fitted.named_steps["vectorize"]
    assert "zebra" not in vectorizer.vocabulary_
    assert vectorizer.transform([texts[validation[0]]])[0, 0] == SequenceVectorizer.OOV
    # The same text with the full data in the vocabulary would have had an index of its own:
    everything = clone(pipe.named_steps["vectorize"]).fit(texts)
    assert everything.transform([texts[validation[0]]])[0, 0] > SequenceVectorizer.OOV


def test_indices_padding_and_truncation():
    vectorizer = SequenceVectorizer(max_words=10, maxlen=4).fit(["b a a", "a c"])
    assert vectorizer.vocabulary_ == {"a": 2, "b": 3, "c": 4}  # by frequency, ties in first-seen order
    out = vectorizer.transform(["a b", "c c c c c c", "unknown a"])
    assert out.tolist() == [[2, 3, 0, 0], [4, 4, 4, 4], [1, 2, 0, 0]]
    assert out.dtype == np.uint16  # the narrowest type that holds every id it could emit


@pytest.mark.parametrize("max_words, dtype", [(65_534, np.uint16), (65_535, np.int32)])
def test_ids_are_the_narrowest_type_that_holds_the_largest_id(max_words, dtype):
    # One text per word, each word as often as its rank says: ids by frequency, the rarest one last.
    words = [f"w{i}" for i in range(max_words)]
    texts = np.array([" ".join([word] * (3 if i == 0 else 2 if i == 1 else 1)) for i, word in enumerate(words)],
                     dtype=object)
    vectorizer = SequenceVectorizer(max_words=max_words, maxlen=3)
    for out in (vectorizer.fit_transform(texts), vectorizer.transform(texts)):
        assert out.dtype == dtype
        assert int(out.max()) == max_words + SequenceVectorizer.OOV  # the largest id, not wrapped around
        assert out[0, 0] == 2 and out[1, 0] == 3 and out[-1, 0] == max_words + 1


def test_max_words_caps_the_vocabulary():
    vectorizer = SequenceVectorizer(max_words=2, maxlen=10).fit(["a a a b b c"])
    assert vectorizer.vocabulary_ == {"a": 2, "b": 3} and vectorizer.vocab_size_ == 4
    assert vectorizer.transform(["c"])[0, 0] == SequenceVectorizer.OOV


def test_every_index_transform_can_emit_occurs_in_the_training_output(tiny_texts):
    texts, _ = tiny_texts
    long_texts = [t + " tail words beyond the cut" for t in texts]
    vectorizer = SequenceVectorizer(maxlen=5).fit(long_texts)
    # Words past maxlen were never seen by the model, so they are not in the vocabulary either.
    assert "tail" not in vectorizer.vocabulary_
    assert int(vectorizer.transform(long_texts).max()) + 1 == vectorizer.vocab_size_


def test_tokenizer_keeps_inner_apostrophes_and_drops_punctuation():
    assert tokenize("Don't STOP -- it's 10/10!") == ["don't", "stop", "it's", "10", "10"]


@pytest.mark.parametrize("param, value", [("maxlen", 0), ("max_words", -5), ("maxlen", 2.5), ("max_words", True)])
def test_bad_parameters_are_named_at_fit_time(param, value):
    vectorizer = SequenceVectorizer(**{param: value})  # no checks in __init__, as in scikit-learn
    with pytest.raises(ValueError, match=f"{param} must be a positive integer"):
        vectorizer.fit(["a b"])


def test_the_length_can_be_a_percentile_of_the_training_texts():
    texts = [" ".join(["w"] * n) for n in range(1, 11)]  # 1..10 tokens
    fitted = SequenceVectorizer(maxlen=3, maxlen_percentile=50).fit(texts)
    assert fitted.maxlen_ == 6  # ceil(5.5): the fitted texts decide, maxlen is ignored
    assert fitted.transform(["a b c d e f g h"]).shape == (1, 6)
    assert SequenceVectorizer(maxlen=3).fit(texts).maxlen_ == 3
    assert SequenceVectorizer(maxlen_percentile=100).fit(texts[:4]).maxlen_ == 4  # learnt per fit, like the vocabulary
    with pytest.raises(ValueError, match="maxlen_percentile must be within 0..100"):
        SequenceVectorizer(maxlen_percentile=101).fit(texts)


def plain_vectorizer(texts, max_words=5000, maxlen=100, maxlen_percentile=0.0):
    """The vectorizer's rules written the plain way: a Counter of each text's first tokens, most_common (equal
    counts first seen first), a dictionary lookup per token."""
    if maxlen_percentile:
        maxlen = max(1, int(np.ceil(np.percentile([len(tokenize(t)) for t in texts], maxlen_percentile))))
    counts = Counter()
    for text in texts:
        counts.update(tokenize(text)[:maxlen])
    vocabulary = {word: i for i, (word, _) in enumerate(counts.most_common(max_words), start=2)}
    ids = np.zeros((len(texts), maxlen), dtype=np.int64)
    for row, text in enumerate(texts):
        found = [vocabulary.get(token, 1) for token in tokenize(text)[:maxlen]]
        ids[row, :len(found)] = found
    return vocabulary, maxlen, ids


SETTINGS = [{"maxlen": 4}, {"maxlen_percentile": 60}, {"maxlen": 50, "max_words": 3},
            {"maxlen_percentile": 90, "max_words": 5}]


def mixed_texts():
    """Ties in count, a word first seen past the cut of one text and within it later, empty texts."""
    rng = np.random.default_rng(2)
    words = ["b", "a", "c", "don't", "e", "f", "g", "h", "i", "j"]
    texts = ["a b c d e f g h late", "late comer", "", "b a b a", "c c c c c"]
    texts += [" ".join(rng.choice(words, rng.integers(0, 12))) for _ in range(40)]
    return np.array(texts, dtype=object)


@pytest.mark.parametrize("settings", SETTINGS)
def test_vocabulary_length_and_ids_are_those_of_a_plain_count_and_lookup(settings):
    texts = mixed_texts()
    vocabulary, maxlen, ids = plain_vectorizer(texts, **settings)
    vectorizer = SequenceVectorizer(**settings)
    found = vectorizer.fit_transform(texts)
    assert list(vectorizer.vocabulary_.items()) == list(vocabulary.items())  # the same ids, in rank order
    assert vectorizer.maxlen_ == maxlen and vectorizer.vocab_size_ == len(vocabulary) + 2
    np.testing.assert_array_equal(found, ids)
    np.testing.assert_array_equal(vectorizer.transform(texts), ids)
    np.testing.assert_array_equal(SequenceVectorizer(**settings).fit(texts).transform(texts), ids)
    assert found.vocabulary == vectorizer.vocabulary_ and found.capacity == vectorizer.capacity_


@pytest.mark.parametrize("settings", SETTINGS)
def test_texts_tokenized_once_vectorize_any_of_their_rows_as_those_rows_alone(settings):
    """As cross-validation uses it: one Tokens for every text, a fold's training rows (in their own order, which
    decides ties) fit on, its validation rows transformed."""
    texts = mixed_texts()
    tokens = Tokens(texts)
    rows = np.random.default_rng(3).permutation(len(texts))
    train, valid = rows[:30], rows[30:]
    vocabulary, maxlen, ids = plain_vectorizer(texts[train], **settings)
    vectorizer = SequenceVectorizer(**settings)
    np.testing.assert_array_equal(vectorizer.fit_transform_tokens(tokens, train), ids)
    assert list(vectorizer.vocabulary_.items()) == list(vocabulary.items()) and vectorizer.maxlen_ == maxlen
    np.testing.assert_array_equal(vectorizer.transform_tokens(tokens, valid), vectorizer.transform(texts[valid]))


def test_bag_of_words_columns_and_modes():
    from sweeplab.modeling.vectorize import BagOfWordsVectorizer

    texts = ["good good film", "bad film", "good"]
    fitted = BagOfWordsVectorizer(max_words=2, mode="count").fit(texts)
    assert fitted.vocabulary_ == {"good": 1, "film": 2}  # most frequent first; column 0 is every other word
    np.testing.assert_array_equal(fitted.transform(["good good bad zebra"]), [[2, 2, 0]])
    binary = BagOfWordsVectorizer(max_words=2, mode="binary").fit(texts).transform(["good good bad"])
    np.testing.assert_array_equal(binary, [[1, 1, 0]])
    tfidf = BagOfWordsVectorizer(max_words=2, mode="tfidf").fit(texts)
    idf_good, idf_film = np.log(1 + 3 / 3), np.log(1 + 3 / 3)
    np.testing.assert_allclose(tfidf.idf_, [np.mean([idf_good, idf_film]), idf_good, idf_film], rtol=1e-6)
    with pytest.raises(ValueError, match="mode must be one of binary, count, tfidf"):
        BagOfWordsVectorizer(mode="bm25").fit(texts)


def test_vectorized_folds_are_kept_per_setting(tiny_texts):
    from sweeplab.search.folds import VectorizedFolds

    texts, labels = tiny_texts
    splits = list(StratifiedKFold(2, shuffle=True, random_state=0).split(texts, labels))
    folds = VectorizedFolds(texts, splits, keep=2)
    first = folds.get(SequenceVectorizer(maxlen=5))
    assert folds.get(SequenceVectorizer(maxlen=5)) is first  # a later trial with the same setting
    for (train, valid), part in zip(splits, first):
        alone = SequenceVectorizer(maxlen=5).fit(texts[train])  # the fold's own vocabulary, nothing else's
        assert part.vectorizer.vocabulary_ == alone.vocabulary_
        np.testing.assert_array_equal(part.valid, alone.transform(texts[valid]))
    folds.get(SequenceVectorizer(maxlen=6))
    folds.get(SequenceVectorizer(maxlen=7))  # the least recently used setting goes
    assert folds.get(SequenceVectorizer(maxlen=5)) is not first
