"""Where data enters: the UCI sources and the GloVe vectors (:mod:`.sources`), a user's CSV, TSV or JSONL file
(:mod:`.tables`), each read into a :class:`~.dataset.Dataset` with the held-out split (:mod:`.dataset`), and
pretrained vectors for an Embedding layer (:mod:`.embeddings`)."""

from sweeplab.data.dataset import Dataset, check_fraction, held_out_rows, holdout_split, label_values
from sweeplab.data.sources import (GLOVE, POOLED, SOURCES, SUBDIR, check, default_data_dir, fetch, fetch_glove,
                                   glove_path, load_reference, load_source, sha256_of)
from sweeplab.data.tables import USER_FILE_SUFFIXES, load_file, read_column

__all__ = ["Dataset", "check_fraction", "held_out_rows", "holdout_split", "label_values", "GLOVE", "POOLED", "SOURCES",
           "SUBDIR", "check",
           "default_data_dir", "fetch", "fetch_glove", "glove_path", "load_reference", "load_source", "sha256_of",
           "USER_FILE_SUFFIXES", "load_file", "read_column"]
