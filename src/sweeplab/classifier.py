"""The scikeras wrapper sweeplab trains: the one place that patches scikeras for today's scikit-learn."""

from __future__ import annotations

import numpy as np
from scikeras.wrappers import KerasClassifier
from sklearn.utils import ClassifierTags

from sweeplab import embeddings


class KerasTextClassifier(KerasClassifier):
    """scikeras' KerasClassifier, fixed to be a classifier again under scikit-learn >= 1.7.

    scikeras 0.13 declares its type through ``_estimator_type``/``_more_tags``, which scikit-learn no longer reads:
    without these tags ``is_classifier()`` is False, ``cv=K`` silently becomes an unstratified KFold and
    ``scoring="roc_auc"`` refuses the estimator.

    A fit whose loss turns NaN raises instead of returning a model that predicts one class.

    It also publishes ``vocab_size_`` (largest token id + 1) to the model factory's ``meta``: scikeras hands every
    fitted ``*_`` attribute to the factory, and :class:`~sweeplab.vectorize.SequenceVectorizer` guarantees that
    every id it can emit occurs in its own training output. With ``embeddings`` (a GloVe-format file) it publishes
    ``pretrained_`` too: that file's vectors for the fitted vocabulary, which the factory's Embedding starts from.
    """

    def __init__(self, model=None, *, embeddings: str = "", embeddings_trainable: bool = True, **kwargs):
        super().__init__(model=model, **kwargs)
        # Set here, not passed on: scikeras hands its other keyword arguments to the model factory.
        self.embeddings = embeddings
        self.embeddings_trainable = embeddings_trainable

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = "classifier"
        tags.classifier_tags = ClassifierTags()
        return tags

    def fit(self, X, y, sample_weight=None, **kwargs):
        if np.issubdtype(X.dtype, np.integer):  # token ids; a bag-of-words model has no embedding to size
            self.vocab_size_ = int(np.max(X)) + 1
        self.pretrained_ = self._pretrained(X)
        super().fit(X, y, sample_weight=sample_weight, **kwargs)
        # Keras trains on through a NaN loss and predicts garbage; a diverged fit is a failed fit.
        for epoch, loss in enumerate(self.history_.get("loss", []), start=1):
            if not np.isfinite(loss):
                raise FloatingPointError(f"training loss became {loss} at epoch {epoch}")
        return self

    def _pretrained(self, X):
        """Pretrained vectors for the vocabulary ``X`` was made with, when ``embeddings`` names a file."""
        path = self.embeddings
        if not path:
            return None
        vocabulary = getattr(X, "vocabulary", None)
        if vocabulary is None:
            raise ValueError("embeddings need token ids from SequenceVectorizer (they carry the vocabulary)")
        return embeddings.for_vocabulary(vocabulary, path, self.embeddings_trainable, self.random_state or 0)

    @property
    def embedding_coverage_(self) -> float | None:
        return None if self.pretrained_ is None else self.pretrained_.coverage
