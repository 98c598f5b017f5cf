"""Fused training: several configurations' Keras models trained side by side as one model on one batch stream.

A small text model leaves a CPU mostly idle: each training step is a handful of small kernels, and the time goes to
dispatching them, to the Python around each call, and to tracing. Trained as one Keras model (horizontal fusion:
Wang et al., "Horizontally Fused Training Array", MLSys 2021), N configurations pay those costs once per step
instead of N times, and TensorFlow's thread pool has N independent branches to run at once.

Each member keeps everything of its own: its weights (the members share no layer), its optimizer and so its
learning rate and optimizer state, its dropout (its layers keep their own seed state), its loss. The fused step
sums the members' losses and differentiates the sum: a member's weights appear only in its own loss, so their
gradients are exactly that loss's gradients, and each member's optimizer applies them as that member's own
training step would. With the same batches, a member therefore trains as it would alone
(``tests/test_fused.py`` compares the scores).

The members share what the stream is: the token ids (one vectorizer setting), the batch size, the shuffling
seed. Batches are cut to the longest row plus the widest padding margin any member needs; a member that needs
less (a narrower convolution) sees a few more padding positions than it would alone: the same outputs, and
gradients equal up to float rounding (:func:`sweeplab.modeling.classifier.trimmed_batches` says why).

Members may train for different numbers of epochs: the fused model trains for the most, and each member's
weights are taken as they were after its own last epoch (or its best one, with early stopping). A member that
finished (or was stopped by its pruner) keeps riding along until the whole group is done; its arithmetic is the
price of not tracing a smaller model.
"""

from __future__ import annotations

import functools

import numpy as np

from sweeplab.modeling.classifier import KerasTextClassifier


def fusion_key(classifier: KerasTextClassifier, vectorizer) -> tuple | None:
    """Classifiers (each with the fitted-to-be ``vectorizer`` of its pipeline) whose keys are equal can train as one
    fused model: the same token ids and the same batch stream. None: this one trains alone (pretrained vectors
    differ per fold, and a bag-of-words input has no batches to cut)."""
    from sweeplab.modeling.vectorize import SequenceVectorizer

    if not isinstance(vectorizer, SequenceVectorizer) or classifier.embeddings or not classifier.trim_padding:
        return None
    return (tuple(sorted(vectorizer.get_params().items())), classifier.batch_size, classifier.buckets,
            classifier.pad_to_multiple_of, classifier.shuffle, classifier.random_state, classifier.steps_per_execution)


def can_fuse(classifiers: list[KerasTextClassifier]) -> bool:
    """Whether prepared (built) classifiers' models all take any length: only then can one stream feed them."""
    return all(c._padding_margin() is not None for c in classifiers)


class Group:
    """The fused model of one group of prepared classifiers, reused for every fold while the group stays the same
    (reset between folds as :meth:`~sweeplab.modeling.classifier.KerasTextClassifier.prepare` resets each member):
    Keras then traces the fused training step once."""

    def __init__(self, classifiers: list[KerasTextClassifier]):
        self.classifiers = list(classifiers)
        self.models = [c.model_ for c in self.classifiers]
        self.model = _fused(self.models)

    def trains(self, classifiers: list[KerasTextClassifier]) -> bool:
        """Whether this group's fused model trains these prepared classifiers' models: the same members, none of
        which built a new model (a fold of another sequence length does, and its scores would otherwise come from
        a model nobody trained)."""
        return self.classifiers == list(classifiers) and all(
            model is c.model_ for model, c in zip(self.models, classifiers))

    def fit(self, X, y, callbacks: list[list]) -> list[Exception | None]:
        """Train every member on the encoded ``X, y`` (as :meth:`KerasTextClassifier.prepare` returned them),
        each for its own epochs; ``callbacks[i]``: member i's Keras callbacks, run against member i's own model
        (one may set its ``stop_training``: early stopping). Returns, per member, None or the exception that
        stopped it (a pruner's, a loss that became NaN); every other member trains on."""
        from scikeras.utils.random_state import tensorflow_random_state

        first = self.classifiers[0]
        margin = max(c._padding_margin() for c in self.classifiers)
        X, y, extra, per_call = first.stream(X, y, margin)
        if self.model.steps_per_execution != per_call:
            self.model.steps_per_execution = per_call
            self.model.train_function = None
        relay = _relay_class()(self.classifiers, callbacks)
        with tensorflow_random_state(first._random_state):
            self.model.fit(X, y, epochs=max(c.epochs for c in self.classifiers), callbacks=[relay], verbose=0,
                           **extra)
        return relay.outcomes


def _fused(members: list):
    """One Keras model over ``members`` (compiled models that each take the token ids) whose training step trains
    each member with its own loss and optimizer."""
    import keras
    import tensorflow as tf

    class Fused(keras.Model):
        def __init__(self, members):
            super().__init__(name="fused")
            self.members = members

        def call(self, x, training=False):
            return [member(x, training=training) for member in self.members]

        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                losses = [member.compute_loss(x=x, y=y, y_pred=member(x, training=True), training=True)
                          for member in self.members]
                total = tf.add_n(losses)
            weights = [member.trainable_variables for member in self.members]
            gradients = tape.gradient(total, [w for own in weights for w in own])
            start = 0
            for member, own in zip(self.members, weights):
                member.optimizer.apply(gradients[start:start + len(own)], own)
                start += len(own)
            return {f"loss_{i}": loss for i, loss in enumerate(losses)}

    model = Fused(members)
    # An optimizer Keras requires and never uses: each member steps its own.
    model.compile(optimizer=keras.optimizers.SGD())
    return model


@functools.lru_cache(maxsize=1)
def _relay_class():
    import keras

    class Relay(keras.callbacks.Callback):
        """Runs each member's callbacks against the member's own model, keeps each member's weights from its own
        last epoch, and stops the fused training once every member is done."""

        def __init__(self, classifiers, callbacks):
            super().__init__()
            self.classifiers, self.callbacks = classifiers, callbacks
            self.outcomes = [None] * len(classifiers)
            self.kept = [None] * len(classifiers)
            self.done = [False] * len(classifiers)

        def _call(self, i: int, hook: str, *args) -> None:
            try:
                for callback in self.callbacks[i]:
                    getattr(callback, hook)(*args)
            except Exception as exc:  # this member stops here; the others train on
                self.outcomes[i], self.done[i] = exc, True

        def on_train_begin(self, logs=None):
            for i, classifier in enumerate(self.classifiers):
                classifier.model_.stop_training = False
                for callback in self.callbacks[i]:
                    callback.set_model(classifier.model_)
            for i in range(len(self.classifiers)):
                self._call(i, "on_train_begin", logs)

        def on_epoch_end(self, epoch, logs=None):
            for i, classifier in enumerate(self.classifiers):
                loss = (logs or {}).get(f"loss_{i}")
                if not self.done[i] and loss is not None and not np.isfinite(loss):
                    self.outcomes[i] = FloatingPointError(f"training loss became {loss} at epoch {epoch + 1}")
                    self.done[i] = True
            for i, classifier in enumerate(self.classifiers):
                if self.done[i]:
                    continue
                self._call(i, "on_epoch_end", epoch, {})
                if not self.done[i] and (classifier.model_.stop_training or epoch + 1 >= classifier.epochs):
                    self._call(i, "on_train_end", {})  # early stopping puts its best epoch's weights back here
                    self.done[i] = True
                    if self.outcomes[i] is None:
                        self.kept[i] = classifier.model_.get_weights()
            if all(self.done):
                self.model.stop_training = True

        def on_train_end(self, logs=None):
            for classifier, kept in zip(self.classifiers, self.kept):
                if kept is not None:
                    classifier.model_.set_weights(kept)

    return Relay
