"""The scikeras wrapper sweeplab trains: the one place that patches scikeras for today's scikit-learn."""

from __future__ import annotations

import contextlib
import weakref

import numpy as np
from scikeras.wrappers import KerasClassifier
from sklearn.utils import ClassifierTags

from sweeplab.data import embeddings
from sweeplab.modeling.defaults import EMBEDDING_DEFAULTS, FIT_DEFAULTS

# Token positions per call when predicting (rows x cut length): bounds the activations (positions x width) a
# call holds, whatever the number of rows or their length: 655 rows of 100 tokens, or 142 imdb reviews of 460,
# about what one training batch of 128 such reviews holds (a 64-wide float32 activation: 17 MB). With 204,800 a
# large_cnn trial on imdb_50k peaked 23 MB higher (1357 against 1334 MB, one run each).
CHUNK_POSITIONS = 2 ** 16


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
    :class:`~sweeplab.modeling.vectorize.SequenceVectorizer` that made the ids (every id it could emit, whatever the
    data, so that every fold of a cross-validation has the same model shape: see :meth:`fit_again`), at least the
    largest id + 1, and at least ``vocab_size``. With ``embeddings`` (a GloVe-format file) it publishes
    ``pretrained_`` too: that file's vectors for the fitted vocabulary, which the factory's Embedding starts from.
    """

    def __init__(self, model=None, *, embeddings: str = EMBEDDING_DEFAULTS["embeddings"],
                 embeddings_trainable: bool = EMBEDDING_DEFAULTS["embeddings_trainable"], vocab_size: int = 0,
                 trim_padding: bool = True, steps_per_execution: int = 0, patience: int = 0, buckets: int = 0,
                 pad_to_multiple_of: int = FIT_DEFAULTS["pad_to_multiple_of"],
                 precision: str = FIT_DEFAULTS["precision"], **kwargs):
        super().__init__(model=model, **kwargs)
        # Set here, not passed on: scikeras hands its other keyword arguments to the model factory.
        self.embeddings = embeddings
        self.embeddings_trainable = embeddings_trainable
        self.vocab_size = vocab_size
        self.trim_padding = trim_padding  # False: every batch at full length, as plain scikeras trains
        # Training steps per call into TensorFlow (0: a whole epoch): a small model's step costs less than the Python
        # around it. On a finite stream the count does not change the weights; a whole epoch per call makes the cut
        # batches one endless stream, which shuffles in another (equally seeded) order.
        self.steps_per_execution = steps_per_execution
        # Early stopping inside a cross-validation's folds (sweeplab.search.folds scores each epoch on the fold's
        # validation part and stops there); a fit without a validation part trains every epoch.
        self.patience = patience
        # Batches drawn from length buckets (trimmed_batches): less padding on long texts of varied length.
        self.buckets = buckets
        # Training batches padded up to a multiple of this many positions: fewer shapes for oneDNN to compile for.
        self.pad_to_multiple_of = pad_to_multiple_of
        self.precision = precision  # the dtype policy the model is built with (defaults.FIT_DEFAULTS says which)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = "classifier"
        tags.classifier_tags = ClassifierTags()
        return tags

    def fit(self, X, y, sample_weight=None, **kwargs):
        _deterministic_ops()
        self._publish_vocabulary(X)
        super().fit(X, y, sample_weight=sample_weight, **kwargs)
        self._check_loss()
        return self

    def fit_again(self, X, y):
        """Fit anew on other data, from exactly the initial weights and optimizer state of the last fit.

        When ``X`` has the shape that model was built for, or a width it takes as well (:meth:`_takes_width`), and
        ``vocab_size`` covers its ids (a cross-validation's next fold), the built and traced model is reset and
        trained again: Keras then skips building the model and tracing its training and prediction functions, about
        a second per fold for a small model on 2 cores. Otherwise, and with pretrained embeddings (each fold has its
        own vectors), this is :meth:`fit`.
        """
        if not self._can_reuse(X):
            return self.fit(X, y)
        self._reset(X)
        self._initialize_callbacks()  # the callbacks parameter may be new (a new fold's epoch scorer)
        self._fit(X, y, sample_weight=None, warm_start=True, epochs=self.epochs, initial_epoch=0)
        self._check_loss()
        return self

    def prepare(self, X, y):
        """Everything :meth:`fit` (or :meth:`fit_again`) does before training, without training: the model built,
        or reset to its initial state, with ``X`` and ``y`` encoded as it trains on them. For training it elsewhere,
        with others (:mod:`sweeplab.modeling.fused`)."""
        if self._can_reuse(X):
            self._reset(X)
            X, y = self._validate_data(X, y)
        else:
            _deterministic_ops()
            self._publish_vocabulary(X)
            self.classes_ = None  # as KerasClassifier.fit starts
            X, y = self._initialize(X, y)
            self._ensure_compiled_model()
        self._initialize_callbacks()
        return self.feature_encoder_.transform(X), self.target_encoder_.transform(y)

    def _reset(self, X):
        """The built model back to its initial state, for training on ``X``. scikeras checks every fit's width
        against the first one's: a model that takes ``X``'s width (:meth:`_takes_width`) moves it along."""
        self.X_shape_, self.n_features_in_ = (self.X_shape_[0], *X.shape[1:]), X.shape[1]
        # Every variable, not only the weights: a Dropout layer's seed state must restart where a fresh model's
        # would, or the folds after the first draw other masks than scikit-learn's fresh fit of the same fold.
        for variable, value in zip([*self.model_.variables, *self.model_.optimizer.variables], self._initial_state):
            variable.assign(value)

    def _publish_vocabulary(self, X):
        if np.issubdtype(X.dtype, np.integer):  # token ids; a bag-of-words model has no embedding to size
            self.vocab_size_ = max(int(np.max(X)) + 1, getattr(X, "capacity", 0), self.vocab_size)
        self.pretrained_ = self._pretrained(X)

    def stream(self, X, y, margin: int | None = None) -> tuple[object, object, dict, int]:
        """How this classifier feeds ``X, y`` (encoded) to Keras: ``(x, y, fit keyword arguments, training steps
        per call)``. Batches cut to the padding they need (see :func:`trimmed_batches`) when the model says how
        much trailing padding keeps its output unchanged (``padding_margin``, or ``margin`` when given); otherwise
        the arrays, as scikeras feeds them."""
        batch_size = self.batch_size or 32
        margin = self._padding_margin() if margin is None else margin
        if margin is None or not np.issubdtype(np.asarray(X).dtype, np.integer):
            return X, y, {}, self.steps_per_execution or -(-len(X) // batch_size)
        steps = batches_per_epoch(lengths(X), batch_size, self.buckets)
        per_call = self.steps_per_execution or steps
        # A whole epoch per call: the batches can run on endlessly, and Keras keeps one iterator for all epochs
        # instead of making one per epoch (about 25 ms each). Otherwise a call may not run past an epoch's last
        # batch, so the data must end there.
        endless = per_call == steps
        batches = trimmed_batches(X, y, batch_size, margin, self._random_state, self.shuffle, endless, self.buckets,
                                  self.pad_to_multiple_of)
        return batches, None, {"shuffle": False, **({"steps_per_epoch": steps} if endless else {})}, per_call

    def _fit_keras_model(self, X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs):
        """Trains as :meth:`stream` feeds, ``steps_per_execution`` training steps per call into TensorFlow (0: a
        whole epoch per call)."""
        if sample_weight is None:
            X, y, extra, per_call = self.stream(X, y)
            kwargs = {**kwargs, **extra}
        else:
            per_call = self.steps_per_execution or -(-len(X) // (self.batch_size or 32))
        if self.model_.steps_per_execution != per_call:
            self.model_.steps_per_execution = per_call
            self.model_.train_function = None  # traced for another count: trace again
        return super()._fit_keras_model(X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs)

    def _predict_raw(self, X, **kwargs):
        if self._padding_margin() is None or kwargs:
            return super()._predict_raw(X, **kwargs)
        X, _ = self._validate_data(X=X, y=None)
        return probabilities(self.model_, self.feature_encoder_.transform(X), multiple=self.pad_to_multiple_of)

    def _padding_margin(self) -> int | None:
        return getattr(self.model_, "padding_margin", None) if self.trim_padding else None

    def _build_keras_model(self):
        with dtype_policy(self.precision):
            model = super()._build_keras_model()
        computed = [str(output.dtype) for output in model.outputs]
        if any(dtype != "float32" for dtype in computed):
            # A factory's last layer without a dtype of its own takes the policy: in bfloat16 a probability keeps
            # 3 significant digits, and so does the loss that trains on it.
            raise ValueError(f"precision {self.precision}: the model's output computes in {computed[0]}; give the "
                             "factory's last layer dtype=\"float32\"")
        # Snapshot the starting point, seed states and optimizer slots included, for fit_again.
        model.optimizer.build(model.trainable_variables)
        self._initial_state = [np.array(variable) for variable in [*model.variables, *model.optimizer.variables]]
        return model

    def _can_reuse(self, X) -> bool:
        if getattr(self, "model_", None) is None or not hasattr(self, "_initial_state") or self.embeddings:
            return False
        if tuple(X.shape[1:]) != tuple(self.X_shape_[1:]) and not self._takes_width(X):
            return False
        return not np.issubdtype(X.dtype, np.integer) or int(np.max(X)) < self.vocab_size_

    def _takes_width(self, X) -> bool:
        """Whether the built model takes rows of ``X``'s width as well as the width it was built for: its input
        has no fixed length, it says what trailing padding it needs (``padding_margin``: its weights do not depend
        on the length) and the rows hold that much. A fresh build for ``X`` would then be the same model, so folds
        whose ``maxlen`` is a percentile of their own texts (457 and 459 tokens on imdb_50k, 20-odd on the UCI
        sentences in ``fast``) share one model and its traced functions."""
        margin = getattr(self.model_, "padding_margin", None)
        return (margin is not None and X.ndim == 2 and len(self.X_shape_) == 2 and X.shape[1] >= max(margin, 1)
                and tuple(self.model_.inputs[0].shape[1:]) == (None,))

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


@contextlib.contextmanager
def dtype_policy(name: str):
    """Keras's dtype policy ``name`` while the block builds layers, the caller's again after it (Keras keeps the
    policy per thread): a model factory builds its layers without a ``dtype`` of their own."""
    import keras

    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)


def lengths(X) -> np.ndarray:
    """Each row's length up to its trailing padding (id 0)."""
    X = np.asarray(X)
    filled = X != 0
    return np.where(filled.any(axis=1), X.shape[1] - np.argmax(filled[:, ::-1], axis=1), 0)


def cut(X, margin: int, multiple: int = 1):
    """``X`` without the trailing padding no row needs: each row keeps its tokens and ``margin`` padding positions
    (fewer where the row was padded less). A model whose output does not change when trailing padding beyond
    ``margin`` positions is removed (its ``padding_margin``) gives the same output for ``cut(X)`` as for ``X``."""
    return X[:, :cut_width(lengths(X), margin, X.shape[1], multiple)]


def cut_width(row_lengths: np.ndarray, margin: int, width: int, multiple: int = 1) -> int:
    """How long rows of these lengths are once cut: the longest plus ``margin``, at least 1, rounded up to a
    ``multiple`` of positions, at most ``width`` (:func:`trimmed_batches` cuts each batch the same way)."""
    return int(_cut_width(int(row_lengths.max(initial=0)), margin, width, multiple))


def _cut_width(longest, margin: int, width: int, multiple: int, maximum=max, minimum=min):
    """The rule of :func:`cut_width`, for a Python int ``longest`` or (with TensorFlow's ``maximum`` and
    ``minimum``) a TensorFlow scalar."""
    return minimum((maximum(longest + margin, 1) + multiple - 1) // multiple * multiple, width)


_FORWARD = weakref.WeakKeyDictionary()  # model -> its compiled forward pass


def probabilities(model, X, trim: bool = True, multiple: int = 1) -> np.ndarray:
    """``model``'s output for every row of ``X``, in the calls :func:`prediction_chunks` makes (``trim``: each cut
    to the padding its rows need), put back in ``X``'s order.

    Through one compiled function per model: called eagerly, every layer is dispatched op by op from Python,
    which on a fold's validation part costs more than the arithmetic (and ``model.predict`` builds a data pipeline
    per call)."""
    import tensorflow as tf

    forward = _FORWARD.get(model)
    if forward is None:
        # Through a weak reference: a function that held the model would keep its key alive, and every model
        # scored (each trial's, with its traced graphs) would stay in memory for good.
        held = weakref.ref(model)
        forward = _FORWARD[model] = tf.function(lambda x: held()(x, training=False), reduce_retracing=True)
    margin = getattr(model, "padding_margin", None) if trim else None
    X = np.asarray(X)
    found = None
    for rows in prediction_chunks(X, margin, multiple):
        chunk = X[rows]
        out = forward(chunk if margin is None else cut(chunk, margin, multiple)).numpy()
        if found is None:
            found = np.empty((len(X), *out.shape[1:]), dtype=out.dtype)
        found[rows] = out
    return found if found is not None else np.empty((0, 1), dtype=np.float32)


def prediction_chunks(X, margin: int | None, multiple: int = 1) -> list[np.ndarray]:
    """The rows of each prediction call. With a ``margin`` (the model takes any length), the rows in order of
    length, so that each call holds rows of about one length and is cut to it: random chunks of long reviews
    are each as long as their longest, about the length cap; sorted, the arithmetic follows the rows' own lengths
    (half of it on imdb_50k). Each call holds as many rows as fit :data:`CHUNK_POSITIONS` once cut (one at least)."""
    X = np.asarray(X)
    if margin is None:
        per_call = max(1, CHUNK_POSITIONS // max(X.shape[1], 1))
        return [np.arange(start, min(start + per_call, len(X))) for start in range(0, len(X), per_call)]
    found = lengths(X)
    order = np.argsort(found, kind="stable")
    chunks, start = [], 0
    while start < len(X):
        # The rows are ascending: a chunk is as long as its last row; shrink it until that fits.
        size = max(1, CHUNK_POSITIONS // cut_width(found[order[start:start + 1]], margin, X.shape[1], multiple))
        while size > 1:
            last = order[min(start + size, len(X)) - 1:min(start + size, len(X))]
            fits = max(1, CHUNK_POSITIONS // cut_width(found[last], margin, X.shape[1], multiple))
            if fits >= size:
                break
            size = fits
        chunks.append(order[start:start + size])
        start += size
    return chunks


def bucket_boundaries(row_lengths: np.ndarray, buckets: int) -> list[int]:
    """Where ``buckets`` length buckets of about as many rows each begin (the rows' own quantiles): a row of length n
    goes to the first bucket whose boundary is above n. Fewer where lengths repeat; none for ``buckets`` <= 1."""
    if buckets <= 1 or not len(row_lengths):
        return []
    cuts = np.quantile(row_lengths, np.linspace(0, 1, buckets + 1)[1:-1], method="higher")
    return sorted({int(c) + 1 for c in cuts} - {int(np.max(row_lengths)) + 1})


def length_buckets(row_lengths: np.ndarray, buckets: int) -> list[np.ndarray]:
    """The rows (indices) of each length bucket, as ``bucket_by_sequence_length`` fills them from
    :func:`bucket_boundaries`: a row of length n in the bucket of the first boundary above n. One bucket of every
    row when ``buckets`` <= 1."""
    which = np.searchsorted(bucket_boundaries(row_lengths, buckets), row_lengths, side="right")
    return [np.flatnonzero(which == bucket) for bucket in range(int(which.max(initial=0)) + 1)]


def batches_per_epoch(row_lengths: np.ndarray, batch_size: int, buckets: int = 0) -> int:
    """How many batches one pass over rows of these lengths makes: each bucket's rows batched apart, its last
    batch short (:func:`trimmed_batches`)."""
    return sum(-(-len(rows) // batch_size) for rows in length_buckets(row_lengths, buckets))


def trimmed_batches(X, y, batch_size: int, margin: int, seed, shuffle: bool = True, endless: bool = False,
                    buckets: int = 0, multiple: int = 1):
    """A tf.data pipeline of one epoch of ``(x, y)`` batches (``endless``: epoch after epoch), each epoch in a new
    seeded random order, each batch's ``x`` cut to the longest of its rows plus ``margin`` padding positions,
    rounded up to a ``multiple`` of positions (never longer than ``X``): :func:`cut_width`.

    ``buckets`` > 1 groups the rows into that many buckets of similar length (:func:`bucket_boundaries`) and draws
    each batch from one bucket (tf.data's ``bucket_by_sequence_length``), still in a new random order every
    epoch: on long texts of varied length a random batch is as long as its longest row, about the length cap,
    while a bucket's batch is about as long as its rows (imdb_50k: 459 positions a batch at random, 216 with
    buckets). The batches are then no longer uniform samples of the rows, which changes the training a little.

    The UCI sentences average 11 to 15 tokens of a ``maxlen`` of 100: most of a convolution's arithmetic would go
    to padding. A ``Conv1D`` (kernel k) followed by ``GlobalMaxPooling1D`` sees the same maximum once every row
    keeps k padding positions (a window wholly in padding gives the same value wherever it stands); a global max
    over embeddings needs one; masked recurrent layers none. The forward pass is then the same; the gradients are
    the same up to float rounding (the max's gradient is split among fewer tied padding windows), so the scores
    match a full-length fit closely but not to the last digit.
    """
    import tensorflow as tf
    from scikeras.utils.random_state import tensorflow_random_state

    length = lengths(X).astype(np.int32)
    X = np.asarray(X)

    def shorten(x, y, n):
        return x[:, :_cut_width(tf.reduce_max(n), margin, X.shape[1], multiple, tf.maximum, tf.minimum)], y

    with tensorflow_random_state(seed if seed is not None else 0):
        batches = tf.data.Dataset.from_tensor_slices((X, y, length))
        if shuffle:
            batches = batches.shuffle(len(X), seed=seed, reshuffle_each_iteration=True)
        edges = bucket_boundaries(length, buckets)
        if edges:
            batches = batches.bucket_by_sequence_length(lambda x, y, n: n, edges, [batch_size] * (len(edges) + 1))
        else:
            batches = batches.batch(batch_size)
        batches = batches.map(shorten)
        return (batches.repeat() if endless else batches).prefetch(1)
