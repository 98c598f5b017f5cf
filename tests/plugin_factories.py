"""A model factory as a third-party package would ship it, declared through the sweeplab.models entry point."""


def tiny_dense(meta: dict, *, embedding_dim: int = 8, learning_rate: float = 0.01):
    """Embedding -> mean -> one sigmoid unit."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=(meta["X_shape_"][1],), dtype="int32")
    x = layers.GlobalAveragePooling1D()(layers.Embedding(meta["vocab_size_"], embedding_dim)(inputs))
    model = keras.Model(inputs, layers.Dense(1, activation="sigmoid")(x))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="binary_crossentropy", metrics=["accuracy"])
    return model
