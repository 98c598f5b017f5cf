"""Raw text to padded integer sequences, as a scikit-learn transformer.

It sits inside the Pipeline, so cross-validation fits it on each fold's training part only: the vocabulary never
sees validation or test text. ``max_words`` and ``maxlen`` are ordinary parameters, so a sweep can search them.
"""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

# Runs of letters/digits, keeping inner apostrophes ("don't" stays one token).
TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


def tokenize(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


class TokenIds(np.ndarray):
    """Token ids that carry the vocabulary they index, so that the model step of a Pipeline can look words up
    (a pretrained embedding needs them) without a side channel. Slices keep it."""

    def __array_finalize__(self, obj):
        self.vocabulary = getattr(obj, "vocabulary", None)


class SequenceVectorizer(TransformerMixin, BaseEstimator):
    """Map each text to ``maxlen_`` word indices, padded with zeros at the end.

    ``maxlen_`` is ``maxlen``, or, when ``maxlen_percentile`` is above 0, that percentile of the token counts of
    the texts it is fit on (a fold's training part: the length is the data's, learnt like the vocabulary).

    Index 0 is padding and 1 stands for any word outside the vocabulary. The ``max_words`` most frequent words of
    the training texts get 2, 3, ... in order of frequency (ties: first seen first).

    Only the first ``maxlen`` tokens of a text count towards the vocabulary, since they are all the model sees.
    That also means every index ``transform`` can emit occurs in the transformed training data, so the model's
    embedding table is sized from the fitted vocabulary (``vocab_size_``) and nothing else.
    """

    PAD = 0
    OOV = 1

    def __init__(self, max_words: int = 5000, maxlen: int = 100, maxlen_percentile: float = 0.0):
        self.max_words = max_words
        self.maxlen = maxlen
        self.maxlen_percentile = maxlen_percentile

    def fit(self, X, y=None):
        self._validate_params()
        self.maxlen_ = self.maxlen
        if self.maxlen_percentile:  # a first pass for the lengths: keeping every text's tokens costs more memory
            lengths = [len(tokenize(text)) for text in X]
            self.maxlen_ = max(1, int(math.ceil(np.percentile(lengths, self.maxlen_percentile))))
        counts = Counter()
        for text in X:
            counts.update(tokenize(text)[: self.maxlen_])
        # most_common sorts stably, so equal counts keep first-seen order: the vocabulary is deterministic.
        words = [word for word, _ in counts.most_common(self.max_words)]
        self.vocabulary_ = {word: index for index, word in enumerate(words, start=self.OOV + 1)}
        self.vocab_size_ = len(self.vocabulary_) + self.OOV + 1
        return self

    def transform(self, X):
        check_is_fitted(self, "vocabulary_")
        sequences = np.full((len(X), self.maxlen_), self.PAD, dtype=np.int32)
        lookup = self.vocabulary_.get
        for row, text in enumerate(X):
            ids = [lookup(token, self.OOV) for token in tokenize(text)[: self.maxlen_]]
            sequences[row, : len(ids)] = ids
        sequences = sequences.view(TokenIds)
        sequences.vocabulary = self.vocabulary_
        return sequences

    def _validate_params(self):
        for name in ("max_words", "maxlen"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"SequenceVectorizer: {name} must be a positive integer, got {value!r}")
        p = self.maxlen_percentile
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 100:
            raise ValueError(f"SequenceVectorizer: maxlen_percentile must be within 0..100 (0: off), got {p!r}")
