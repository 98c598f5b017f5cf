"""The settings every model shares, apart from any one factory: fit settings, numeric bounds, pretrained vectors.
Light on purpose (no scikit-learn, no Keras): the sweep-file parser reads it at import."""

# Fit settings a sweep may fix under `fit:` or search under `space:`. ``buckets`` > 1 draws each batch from one of
# that many buckets of similar text length (less padding on long texts of varied length; 0: batches at random).
# ``precision``: the Keras dtype policy the model is built with; "mixed_bfloat16" computes in bfloat16 on float32
# weights (the output layer stays float32), which oneDNN's kernels run faster on a CPU with AVX512-BF16 or AMX
# and TensorFlow's own kernels about 15x slower (bench/large_data.py), so it needs the sweep's ``onednn: true``.
# ``pad_to_multiple_of``: each training batch, once cut to its longest row, is padded up to a multiple of this many
# positions: fewer distinct tensor shapes, each of which oneDNN compiles kernels for (1: cut exactly).
FIT_DEFAULTS = {"epochs": 10, "batch_size": 32, "buckets": 0, "pad_to_multiple_of": 1, "precision": "float32"}
FIT_CHOICES = {"precision": ("float32", "mixed_bfloat16")}
# Settings of the cross-validation only, set and searched like fit settings: ``patience`` stops a fold's training
# once its validation score has not improved for that many epochs (0: train every epoch). A refit has no
# validation part: it trains for the epochs the folds chose instead (an experiment file holds that count).
CV_DEFAULTS = {"patience": 0}
# The values a numeric parameter may take, inclusive. Past them a fit fails (dropout 1.5) or asks for memory no
# machine has (embedding_dim 10**12): a sweep file is refused when it is read, not trial after trial.
BOUNDS = {
    "batch_size": (1, 65_536), "buckets": (0, 1_024), "dense_units": (1, 65_536), "embedding_dim": (1, 4_096),
    "pad_to_multiple_of": (1, 1_024),
    "epochs": (1, 10_000),
    "kernel_size": (1, 1_024), "max_words": (2, 10_000_000), "maxlen": (1, 100_000), "n_layers": (1, 64),
    "num_filters": (1, 65_536), "patience": (0, 10_000), "units": (1, 65_536), "dropout": (0.0, 0.99),
    "recurrent_dropout": (0.0, 0.99),
    "learning_rate": (1e-9, 10.0), "maxlen_percentile": (0.0, 100.0),
}
# Pretrained vectors for the Embedding layer (a sweep's `embeddings:`): a GloVe-format file ("" = none).
EMBEDDING_DEFAULTS = {"embeddings": "", "embeddings_trainable": True}
