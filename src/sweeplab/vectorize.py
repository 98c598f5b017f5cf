"""Raw text to padded integer sequences, as a scikit-learn transformer.

It sits inside the Pipeline, so cross-validation fits it on each fold's training part only: the vocabulary never
sees validation or test text. ``max_words`` and ``maxlen`` are ordinary parameters, so a sweep can search them.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

# Runs of letters/digits, keeping inner apostrophes ("don't" stays one token).
TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


def tokenize(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


class SequenceVectorizer(TransformerMixin, BaseEstimator):
    """Map each text to ``maxlen`` word indices, padded with zeros at the end.

    Index 0 is padding and 1 stands for any word outside the vocabulary. The ``max_words`` most frequent words of
    the training texts get 2, 3, ... in order of frequency (ties: first seen first).

    Only the first ``maxlen`` tokens of a text count towards the vocabulary, since they are all the model sees.
    That also means every index ``transform`` can emit occurs in the transformed training data, so the model's
    embedding table is sized from the fitted vocabulary (``vocab_size_``) and nothing else.
    """

    PAD = 0
    OOV = 1

    def __init__(self, max_words: int = 5000, maxlen: int = 100):
        self.max_words = max_words
        self.maxlen = maxlen

    def fit(self, X, y=None):
        self._validate_params()
        counts = Counter()
        for text in X:
            counts.update(tokenize(text)[: self.maxlen])
        # most_common sorts stably, so equal counts keep first-seen order: the vocabulary is deterministic.
        words = [word for word, _ in counts.most_common(self.max_words)]
        self.vocabulary_ = {word: index for index, word in enumerate(words, start=self.OOV + 1)}
        self.vocab_size_ = len(self.vocabulary_) + self.OOV + 1
        return self

    def transform(self, X):
        check_is_fitted(self, "vocabulary_")
        sequences = np.full((len(X), self.maxlen), self.PAD, dtype=np.int32)
        lookup = self.vocabulary_.get
        for row, text in enumerate(X):
            ids = [lookup(token, self.OOV) for token in tokenize(text)[: self.maxlen]]
            sequences[row, : len(ids)] = ids
        return sequences

    def _validate_params(self):
        for name in ("max_words", "maxlen"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"SequenceVectorizer: {name} must be a positive integer, got {value!r}")
