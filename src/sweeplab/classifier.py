"""The scikeras wrapper sweeplab trains: the one place that patches scikeras for today's scikit-learn."""

from __future__ import annotations

import numpy as np
from scikeras.wrappers import KerasClassifier
from sklearn.utils import ClassifierTags


class KerasTextClassifier(KerasClassifier):
    """scikeras' KerasClassifier, fixed to be a classifier again under scikit-learn >= 1.7.

    scikeras 0.13 declares its type through ``_estimator_type``/``_more_tags``, which scikit-learn no longer reads:
    without these tags ``is_classifier()`` is False, ``cv=K`` silently becomes an unstratified KFold and
    ``scoring="roc_auc"`` refuses the estimator.

    A fit whose loss turns NaN raises instead of returning a model that predicts one class.

    It also publishes ``vocab_size_`` (largest token id + 1) to the model factory's ``meta``: scikeras hands every
    fitted ``*_`` attribute to the factory, and :class:`~sweeplab.vectorize.SequenceVectorizer` guarantees that
    every id it can emit occurs in its own training output.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = "classifier"
        tags.classifier_tags = ClassifierTags()
        return tags

    def fit(self, X, y, sample_weight=None, **kwargs):
        self.vocab_size_ = int(np.max(X)) + 1
        super().fit(X, y, sample_weight=sample_weight, **kwargs)
        # Keras trains on through a NaN loss and predicts garbage; a diverged fit is a failed fit.
        for epoch, loss in enumerate(self.history_.get("loss", []), start=1):
            if not np.isfinite(loss):
                raise FloatingPointError(f"training loss became {loss} at epoch {epoch}")
        return self
