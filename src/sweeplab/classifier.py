"""The scikeras wrapper sweeplab trains: the one place that patches scikeras for today's scikit-learn."""

from __future__ import annotations

import numpy as np
from scikeras.wrappers import KerasClassifier
from sklearn.utils import ClassifierTags

from sweeplab import embeddings


def _deterministic_ops() -> None:
    """The same seed gives the same weights and scores: TensorFlow picks deterministic kernels (on CPU, reductions
    that do not depend on thread scheduling). scikeras' seeding sets TF_DETERMINISTIC_OPS, which newer TensorFlow
    reads for GPUs only; this is the switch TensorFlow documents."""
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()


class KerasTextClassifier(KerasClassifier):
    """scikeras' KerasClassifier, fixed to be a classifier again under scikit-learn >= 1.7.

    scikeras 0.13 declares its type through ``_estimator_type``/``_more_tags``, which scikit-learn no longer reads:
    without these tags ``is_classifier()`` is False, ``cv=K`` silently becomes an unstratified KFold and
    ``scoring="roc_auc"`` refuses the estimator.

    A fit whose loss turns NaN raises instead of returning a model that predicts one class.

    It also publishes ``vocab_size_``, the embedding table's rows, to the model factory's ``meta`` (scikeras hands
    every fitted ``*_`` attribute to the factory): the ``capacity`` of the
    :class:`~sweeplab.vectorize.SequenceVectorizer` that made the ids (every id it could emit, whatever the data,
    so that every fold of a cross-validation has the same model shape: see :meth:`fit_again`), at least the
    largest id + 1, and at least ``vocab_size``. With ``embeddings`` (a GloVe-format file) it publishes
    ``pretrained_`` too: that file's vectors for the fitted vocabulary, which the factory's Embedding starts from.
    """

    def __init__(self, model=None, *, embeddings: str = "", embeddings_trainable: bool = True, vocab_size: int = 0,
                 **kwargs):
        super().__init__(model=model, **kwargs)
        # Set here, not passed on: scikeras hands its other keyword arguments to the model factory.
        self.embeddings = embeddings
        self.embeddings_trainable = embeddings_trainable
        self.vocab_size = vocab_size

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = "classifier"
        tags.classifier_tags = ClassifierTags()
        return tags

    def fit(self, X, y, sample_weight=None, **kwargs):
        _deterministic_ops()
        if np.issubdtype(X.dtype, np.integer):  # token ids; a bag-of-words model has no embedding to size
            self.vocab_size_ = max(int(np.max(X)) + 1, getattr(X, "capacity", 0), self.vocab_size)
        self.pretrained_ = self._pretrained(X)
        super().fit(X, y, sample_weight=sample_weight, **kwargs)
        self._check_loss()
        return self

    def fit_again(self, X, y):
        """Fit anew on other data, from exactly the initial weights and optimizer state of the last fit.

        When ``X`` has the shape that model was built for (a cross-validation's next fold, with ``vocab_size``
        covering every fold), the built and traced model is reset and trained again: Keras then skips building
        the model and tracing its training and prediction functions, about a second per fold for a small model on
        2 cores. Otherwise, and with pretrained embeddings (each fold has its own vectors), this is :meth:`fit`.
        """
        if not self._can_reuse(X):
            return self.fit(X, y)
        # Every variable, not only the weights: a Dropout layer's seed state must restart where a fresh model's
        # would, or the folds after the first draw other masks than scikit-learn's fresh fit of the same fold.
        for variable, value in zip([*self.model_.variables, *self.model_.optimizer.variables], self._initial_state):
            variable.assign(value)
        self._initialize_callbacks()  # the callbacks parameter may be new (a new fold's epoch scorer)
        self._fit(X, y, sample_weight=None, warm_start=True, epochs=self.epochs, initial_epoch=0)
        self._check_loss()
        return self

    def _build_keras_model(self):
        model = super()._build_keras_model()
        # Snapshot the starting point, seed states and optimizer slots included, for fit_again.
        model.optimizer.build(model.trainable_variables)
        self._initial_state = [np.array(variable) for variable in [*model.variables, *model.optimizer.variables]]
        return model

    def _can_reuse(self, X) -> bool:
        if getattr(self, "model_", None) is None or not hasattr(self, "_initial_state") or self.embeddings:
            return False
        if tuple(X.shape[1:]) != tuple(self.X_shape_[1:]):
            return False
        return not np.issubdtype(X.dtype, np.integer) or int(np.max(X)) < self.vocab_size_

    def _check_loss(self):
        # Keras trains on through a NaN loss and predicts garbage; a diverged fit is a failed fit.
        for epoch, loss in enumerate(self.history_.get("loss", []), start=1):
            if not np.isfinite(loss):
                raise FloatingPointError(f"training loss became {loss} at epoch {epoch}")

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
