"""Raw text to model input, as scikit-learn transformers: padded integer sequences for the embedding models,
bag-of-words vectors for ``bow_dense``.

They sit inside the Pipeline, so cross-validation fits them on each fold's training part only: the vocabulary
never sees validation or test text. Their settings are ordinary parameters, so a sweep can search them.
"""

from __future__ import annotations

import math
import re
from array import array
from collections import Counter

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

# Runs of letters/digits, keeping inner apostrophes ("don't" stays one token).
TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


def tokenize(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


class Tokens:
    """Texts tokenized once, as numbers: every distinct token a number in the order first seen (``words[n]`` is
    token n), text i the numbers ``ids[starts[i]:starts[i + 1]]``.

    On long texts tokenizing is most of vectorizing, and a k-fold cross-validation would tokenize every text k
    times (in k - 1 training parts and one validation part): :class:`~sweeplab.search.folds.VectorizedFolds`
    tokenizes once for all folds. The numbers carry nothing learnt: a vectorizer fit on some of the rows takes its
    vocabulary, counts and lengths from those rows alone."""

    def __init__(self, texts):
        numbers, self.words = {}, []

        def number(token: str) -> int:
            found = numbers.get(token)
            if found is None:
                found = numbers[token] = len(self.words)
                self.words.append(token)
            return found

        ids, ends = array("i"), array("q", [0])
        for text in texts:
            ids.extend(map(number, tokenize(text)))
            ends.append(len(ids))
        self.ids = np.frombuffer(ids, dtype=np.int32) if ids else np.empty(0, dtype=np.int32)
        self.starts = np.frombuffer(ends, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.starts) - 1

    def lengths(self, rows=None) -> np.ndarray:
        """How many tokens each text of ``rows`` (all: None) has."""
        rows = np.arange(len(self)) if rows is None else np.asarray(rows, dtype=np.int64)
        return self.starts[rows + 1] - self.starts[rows]

    def take(self, rows, maxlen: int) -> tuple[np.ndarray, np.ndarray]:
        """The first ``maxlen`` numbers of each text of ``rows`` (all: None), one text after the other, and how
        many each text gave."""
        rows = np.arange(len(self)) if rows is None else np.asarray(rows, dtype=np.int64)
        begins = self.starts[rows]
        kept = np.minimum(self.starts[rows + 1] - begins, maxlen)
        pieces = [self.ids[b:b + k] for b, k in zip(begins.tolist(), kept.tolist())]
        return (np.concatenate(pieces) if pieces else np.empty(0, dtype=np.int32)), kept


class TokenIds(np.ndarray):
    """Token ids that carry the vocabulary they index, so that the model step of a Pipeline can look words up
    (a pretrained embedding needs them) without a side channel, and ``capacity``: how many ids the vectorizer
    that made them can emit at most, which sizes the embedding table. Slices keep both."""

    def __array_finalize__(self, obj):
        self.vocabulary = getattr(obj, "vocabulary", None)
        self.capacity = getattr(obj, "capacity", 0)


def id_dtype(capacity: int) -> np.dtype:
    """The narrowest integer type that holds every id of a vectorizer of this ``capacity``: uint16 up to 65,536
    ids (any ``max_words`` up to 65,534), else int32. The ids are most of a large dataset's memory (each fold's
    rows x ``maxlen``, held for the whole search, and again by the batch stream): imdb_50k's 37,500 training
    reviews at 470 positions are 70 MB a fold as int32. Keras's Embedding casts its input to int32 per batch."""
    return np.dtype(np.uint16) if capacity <= np.iinfo(np.uint16).max + 1 else np.dtype(np.int32)


class SequenceVectorizer(TransformerMixin, BaseEstimator):
    """Map each text to ``maxlen_`` word indices, padded with zeros at the end.

    ``maxlen_`` is ``maxlen``, or, when ``maxlen_percentile`` is above 0, that percentile of the token counts of
    the texts it is fit on (a fold's training part: the length is the data's, learnt like the vocabulary).

    Index 0 is padding and 1 stands for any word outside the vocabulary. The ``max_words`` most frequent words of
    the training texts get 2, 3, ... in order of frequency (ties: first seen first).

    Only the first ``maxlen`` tokens of a text count towards the vocabulary, since they are all the model sees.

    The embedding table has ``capacity_`` = ``max_words`` + 2 rows, one for every id this vectorizer could emit,
    whatever the data: the table's shape, and so a seeded model's initial weights, are then the same in every fold
    and on every path that trains a configuration (each fold of scikit-learn's own search builds a fresh model,
    sweeplab's trial runner resets one model between folds; see ``tests/test_search_equivalence.py``). Rows past
    the fitted vocabulary are never looked up, so they receive no gradient and change nothing.
    """

    PAD = 0
    OOV = 1

    def __init__(self, max_words: int = 5000, maxlen: int = 100, maxlen_percentile: float = 0.0):
        self.max_words = max_words
        self.maxlen = maxlen
        self.maxlen_percentile = maxlen_percentile

    def fit(self, X, y=None):
        self.fit_transform(X)
        return self

    def fit_transform(self, X, y=None):
        return self.fit_transform_tokens(Tokens(X))

    def transform(self, X):
        return self.transform_tokens(Tokens(X))

    def fit_transform_tokens(self, tokens: Tokens, rows=None) -> TokenIds:
        """``fit_transform`` of the texts ``rows`` (all: None) of ``tokens``: the lengths, the counts, the
        vocabulary and the ids all follow from the token numbers, each text tokenized once."""
        self._validate_params()
        self.maxlen_ = self.maxlen
        if self.maxlen_percentile:
            self.maxlen_ = max(1, int(math.ceil(np.percentile(tokens.lengths(rows), self.maxlen_percentile))))
        stream, kept = tokens.take(rows, self.maxlen_)
        # By count, equal counts in the order first seen among the kept tokens (the order of ``rows``).
        seen, first = np.unique(stream, return_index=True)
        counts = np.bincount(stream, minlength=len(tokens.words))[seen]
        chosen = seen[np.lexsort((first, -counts))][: self.max_words]
        self.vocabulary_ = {tokens.words[w]: index for index, w in enumerate(chosen.tolist(), start=self.OOV + 1)}
        self.vocab_size_ = len(self.vocabulary_) + self.OOV + 1
        self.capacity_ = self.max_words + self.OOV + 1
        final = np.full(len(tokens.words), self.OOV, dtype=np.int32)
        final[chosen] = np.arange(self.OOV + 1, self.OOV + 1 + len(chosen), dtype=np.int32)
        return self._sequences(final[stream], kept)

    def transform_tokens(self, tokens: Tokens, rows=None) -> TokenIds:
        check_is_fitted(self, "vocabulary_")
        lookup = self.vocabulary_.get
        final = np.fromiter((lookup(word, self.OOV) for word in tokens.words), dtype=np.int32,
                            count=len(tokens.words))
        stream, kept = tokens.take(rows, self.maxlen_)
        return self._sequences(final[stream], kept)

    def _sequences(self, ids: np.ndarray, kept: np.ndarray) -> TokenIds:
        """Rows of ``kept`` ids each (``ids`` one row after the other), padded to ``maxlen_``."""
        sequences = np.full((len(kept), self.maxlen_), self.PAD, dtype=id_dtype(self.capacity_))
        sequences[np.arange(self.maxlen_) < kept[:, None]] = ids  # a mask's cells run row by row, as ``ids`` do
        return self._as_token_ids(sequences)

    def _as_token_ids(self, sequences: np.ndarray) -> TokenIds:
        sequences = sequences.view(TokenIds)
        sequences.vocabulary = self.vocabulary_
        sequences.capacity = self.capacity_
        return sequences

    def _validate_params(self):
        for name in ("max_words", "maxlen"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"SequenceVectorizer: {name} must be a positive integer, got {value!r}")
        p = self.maxlen_percentile
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 100:
            raise ValueError(f"SequenceVectorizer: maxlen_percentile must be within 0..100 (0: off), got {p!r}")


class BagOfWordsVectorizer(TransformerMixin, BaseEstimator):
    """Each text as one column per vocabulary word, plus column 0 for every other word.

    The ``max_words`` most frequent words of the training texts make the vocabulary (ties: first seen first).
    ``mode``: ``binary`` (present or not), ``count`` or ``tfidf`` (count × idf, idf = ln(1 + n / (1 + df)) from the
    training texts; column 0 gets the mean idf). The output is a dense float32 matrix, fine for the UCI sources
    (1000 × 5001 is 20 MB); the sequence models are the ones meant for large data.
    """

    CHOICES = {"mode": ("binary", "count", "tfidf")}

    def __init__(self, max_words: int = 5000, mode: str = "count"):
        self.max_words = max_words
        self.mode = mode

    def fit(self, X, y=None):
        self._validate_params()
        counts, documents = Counter(), Counter()
        for text in X:
            tokens = tokenize(text)
            counts.update(tokens)
            documents.update(set(tokens))
        words = [word for word, _ in counts.most_common(self.max_words)]
        self.vocabulary_ = {word: column for column, word in enumerate(words, start=1)}
        idf = np.array([math.log(1 + len(X) / (1 + documents[word])) for word in words], dtype=np.float32)
        self.idf_ = np.concatenate([[idf.mean() if len(idf) else 0.0], idf]).astype(np.float32)
        return self

    def transform(self, X):
        check_is_fitted(self, "vocabulary_")
        vectors = np.zeros((len(X), len(self.vocabulary_) + 1), dtype=np.float32)
        lookup = self.vocabulary_.get
        for row, text in enumerate(X):
            for token in tokenize(text):
                vectors[row, lookup(token, 0)] += 1
        if self.mode == "binary":
            np.minimum(vectors, 1, out=vectors)
        elif self.mode == "tfidf":
            vectors *= self.idf_
        return vectors

    def _validate_params(self):
        if isinstance(self.max_words, bool) or not isinstance(self.max_words, (int, np.integer)) or \
                self.max_words < 1:
            raise ValueError(f"BagOfWordsVectorizer: max_words must be a positive integer, got {self.max_words!r}")
        if self.mode not in self.CHOICES["mode"]:
            raise ValueError(f"BagOfWordsVectorizer: mode must be one of {', '.join(self.CHOICES['mode'])}, "
                             f"got {self.mode!r}")
