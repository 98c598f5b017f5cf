"""The built-in model factories (``cnn``, ``rnn``, ``embedding_pool``, ``flatten``, ``bow_dense``): each a compiled
Keras model from scikeras' fitted facts and its keyword parameters. Keras is imported inside the builders so that
reading and validating a sweep file stays instant."""

from __future__ import annotations

from typing import Literal

from sweeplab.modeling.registry import BAG_OF_WORDS, register


def _embedded_input(meta: dict, embedding_dim: int, mask_zero: bool = False, any_length: bool = True):
    """Token ids -> vectors. With pretrained vectors (``meta["pretrained_"]``) the width is theirs, not
    ``embedding_dim``, and the layer starts from them, frozen unless they are trainable.

    ``any_length``: the model takes sequences of any length, so batches can be cut to the padding they need
    (see ``padding_margin`` in :func:`_compiled`); a model whose weights depend on the length says False."""
    import numpy as np
    from keras import Input, layers

    inputs = Input(shape=(None if any_length else meta["X_shape_"][1],), dtype="int32", name="tokens")
    pretrained = meta.get("pretrained_")
    width = embedding_dim if pretrained is None else pretrained.matrix.shape[1]
    embedding = layers.Embedding(meta["vocab_size_"], width, mask_zero=mask_zero, name="embedding",
                                 trainable=True if pretrained is None else pretrained.trainable)
    vectors = embedding(inputs)
    if pretrained is not None:
        # Set after building rather than as an initializer: the weights then live in the weights file, not the
        # model's JSON config.
        # The table may have more rows than the fitted vocabulary (its vectorizer's capacity): never looked up.
        weights = np.zeros((meta["vocab_size_"], width), dtype=np.float32)
        rows = min(len(pretrained.matrix), meta["vocab_size_"])
        weights[:rows] = pretrained.matrix[:rows]
        embedding.set_weights([weights])
    return inputs, vectors


def _classifier_head(x, meta: dict, dense_units: int, dropout: float):
    """Dense(relu) then one sigmoid unit for two classes, a softmax over K classes otherwise. The output computes
    in float32 whatever the model's precision: in bfloat16 a probability keeps 3 significant digits, and the loss
    of a confident wrong answer is then log(0)."""
    from keras import layers

    x = layers.Dense(dense_units, activation="relu")(x)
    if dropout:
        x = layers.Dropout(dropout)(x)
    if meta["n_classes_"] == 2:
        return layers.Dense(1, activation="sigmoid", name="output", dtype="float32")(x)
    return layers.Dense(meta["n_classes_"], activation="softmax", name="output", dtype="float32")(x)


def _compiled(inputs, outputs, meta: dict, learning_rate: float, name: str, padding_margin: int | None = None):
    """``padding_margin``: how many trailing padding positions each row must keep for the output to stay what it
    is at full length (None: the model needs the full length); the classifier cuts batches to that."""
    import keras

    model = keras.Model(inputs, outputs, name=name)
    loss = "binary_crossentropy" if meta["n_classes_"] == 2 else "sparse_categorical_crossentropy"
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, metrics=["accuracy"])
    model.padding_margin = padding_margin
    return model


def _embedding_then(reduce, name: str, meta: dict, embedding_dim: int, dense_units: int, dropout: float,
                    learning_rate: float, padding_margin: int | None):
    """Embedding -> one layer that turns the sequence into a vector (``reduce``) -> the classifier head."""
    inputs, x = _embedded_input(meta, embedding_dim, any_length=padding_margin is not None)
    return _compiled(inputs, _classifier_head(reduce(x), meta, dense_units, dropout), meta, learning_rate, name,
                     padding_margin)


@register
def cnn(
    meta: dict,
    *,
    num_filters: int = 128,
    kernel_size: int = 5,
    embedding_dim: int = 50,
    dense_units: int = 10,
    dropout: float = 0.0,
    learning_rate: float = 0.001,
):
    """Embedding -> Conv1D(relu) -> GlobalMaxPooling1D -> Dense(relu) -> output: the reference tutorial's CNN."""
    from keras import layers

    if kernel_size > meta["X_shape_"][1]:  # the input takes any length, so Keras would only fail mid-fit
        raise ValueError(f"cnn: kernel_size {kernel_size} is wider than the sequences ({meta['X_shape_'][1]} tokens)")
    inputs, x = _embedded_input(meta, embedding_dim)
    x = layers.Conv1D(num_filters, kernel_size, activation="relu")(x)
    x = layers.GlobalMaxPooling1D()(x)
    # One window wholly in padding gives the value every such window gives: the maximum is the full length's.
    return _compiled(inputs, _classifier_head(x, meta, dense_units, dropout), meta, learning_rate, "cnn",
                     padding_margin=kernel_size)


@register
def embedding_pool(
    meta: dict,
    *,
    embedding_dim: int = 50,
    dense_units: int = 10,
    dropout: float = 0.0,
    learning_rate: float = 0.001,
):
    """Embedding -> GlobalMaxPooling1D -> Dense(relu) -> output: a fast order-free baseline."""
    from keras import layers

    # One padding position keeps the padding vector among those the maximum is taken over.
    return _embedding_then(layers.GlobalMaxPooling1D(), "embedding_pool", meta, embedding_dim, dense_units, dropout,
                           learning_rate, padding_margin=1)


@register
def rnn(
    meta: dict,
    *,
    cell: Literal["lstm", "gru", "simple_rnn"] = "lstm",
    units: int = 32,
    n_layers: int = 1,
    bidirectional: bool = False,
    embedding_dim: int = 50,
    dropout: float = 0.0,
    recurrent_dropout: float = 0.0,
    dense_units: int = 10,
    learning_rate: float = 0.001,
):
    """Embedding -> ``n_layers`` stacked recurrent layers (``cell``: lstm, gru or simple_rnn; each but the last
    returns its sequence to the next; optionally bidirectional) -> Dense(relu) -> output.

    Padding is masked, so a short text's state is not washed out by the zeros after it. ``dropout`` applies
    between the recurrent layers and before the output; ``recurrent_dropout`` to the recurrent state (it disables
    the fused cuDNN kernels, which matters only on a GPU).
    """
    from keras import layers

    cells = {"lstm": layers.LSTM, "gru": layers.GRU, "simple_rnn": layers.SimpleRNN}
    if cell not in cells:
        raise ValueError(f"rnn: cell must be one of {', '.join(cells)}, got {cell!r}")
    if n_layers < 1:
        raise ValueError(f"rnn: n_layers must be at least 1, got {n_layers}")
    inputs, x = _embedded_input(meta, embedding_dim, mask_zero=True)
    for depth in range(n_layers):
        recurrent = cells[cell](units, return_sequences=depth < n_layers - 1, recurrent_dropout=recurrent_dropout)
        x = layers.Bidirectional(recurrent)(x) if bidirectional else recurrent(x)
        if dropout and depth < n_layers - 1:
            x = layers.Dropout(dropout)(x)
    # Masked padding leaves the state as it was, in either direction: no row needs any of it.
    return _compiled(inputs, _classifier_head(x, meta, dense_units, dropout), meta, learning_rate, "rnn",
                     padding_margin=0)


@register
def flatten(
    meta: dict,
    *,
    embedding_dim: int = 50,
    dense_units: int = 10,
    dropout: float = 0.0,
    learning_rate: float = 0.001,
):
    """Embedding -> Flatten -> Dense(relu) -> output: the naive positional baseline (every position its own
    weights, so a word's meaning depends on where it stands)."""
    from keras import layers

    return _embedding_then(layers.Flatten(), "flatten", meta, embedding_dim, dense_units, dropout, learning_rate,
                           padding_margin=None)  # a weight per position: the length is part of the model


@register(reads=BAG_OF_WORDS)
def bow_dense(
    meta: dict,
    *,
    dense_units: int = 10,
    dropout: float = 0.0,
    learning_rate: float = 0.001,
):
    """Bag-of-words vector (binary, count or TF-IDF: the vectorizer's ``mode``) -> Dense(relu) -> output: the
    first Keras model of the tutorials, and the neural twin of the logistic-regression baseline."""
    from keras import Input

    inputs = Input(shape=(meta["X_shape_"][1],), dtype="float32", name="bag_of_words")
    return _compiled(inputs, _classifier_head(inputs, meta, dense_units, dropout), meta, learning_rate, "bow_dense")

