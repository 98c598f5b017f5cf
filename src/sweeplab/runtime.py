"""The process settings a sweep runs best with, applied when work starts (a sweep, a retrain, a prediction),
never at import, and only where the user has not chosen otherwise: an environment variable already set stays."""

from __future__ import annotations

import logging
import os
import warnings

ENVIRONMENT = {
    # TensorFlow's oneDNN kernels are cached per tensor shape, so a sweep that tries many shapes grows by about
    # 1.3 MB a trial (bench/scaling.py: +12 % RSS from trial 10 to 100), with no speed gained on models this
    # small; a sweep over large data turns them on (``onednn: true``, see configure). Read when TensorFlow is
    # imported: a process that imported it already keeps its setting.
    "TF_ENABLE_ONEDNN_OPTS": "0",
    # TensorFlow logs a spurious C++ error per fit (a tf.data attribute mismatch) between the progress lines.
    "TF_CPP_MIN_LOG_LEVEL": "3",
    # MLflow narrates model logging (progress bars, INFO lines, a "View run" URL per closed run); sweeplab's own
    # lines say what happened.
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "MLFLOW_LOGGING_LEVEL": "WARNING",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
    # MLflow's client retries a request for about 4 minutes before it fails, holding up training all along. Trial
    # writes wait in an outbox instead (sweeplab.tracking.outbox), which retries and tells the user.
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
    # Figures are files logged to MLflow. A notebook's kernel sets its own (inline), which stays.
    "MPLBACKEND": "Agg",
    # The fold loop is TensorFlow's (tf.data batches, compiled forward passes); this wins over a default backend
    # chosen in ~/.keras/keras.json. A KERAS_BACKEND set to another backend is refused (check_backend).
    "KERAS_BACKEND": "tensorflow",
}

_configured = False


def configure(workers: int = 1, onednn: bool = False, keras: bool = True) -> None:
    """Apply the settings once per process; ``workers`` processes on this machine share its cores; ``onednn``
    (a sweep's setting) turns TensorFlow's oneDNN kernels on: one large_cnn trial on imdb_50k was faster with them
    in 8 of 9 alternating runs, at no more memory (bench/large_data.py). ``keras``: the work trains or loads
    models, so Keras must be on TensorFlow (a command that only reads the store does not mind)."""
    global _configured
    if keras:
        check_backend()
    if workers > 1:
        # Each of N worker processes gets its share of the cores, instead of all of them fighting over every core.
        os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(max(1, cores() // workers)))
        os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
    if onednn and os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "0":
        # The user's setting (or an earlier command's in this process, which TensorFlow read when it loaded) wins.
        warnings.warn("the work asks for oneDNN (onednn: true) but TensorFlow here runs without it "
                      "(TF_ENABLE_ONEDNN_OPTS=0 was set before it loaded): training is slower, mixed_bfloat16 "
                      "about 15x slower than float32; run it in a process without that setting", RuntimeWarning,
                      stacklevel=3)
    if _configured:
        return
    _configured = True
    if "MLFLOW_LOGGING_LEVEL" not in os.environ:
        # Read when MLflow is imported: a process that imported it already (a notebook) gets the level set here.
        logging.getLogger("mlflow").setLevel(logging.WARNING)
    for name, value in {**ENVIRONMENT, **({"TF_ENABLE_ONEDNN_OPTS": "1"} if onednn else {})}.items():
        os.environ.setdefault(name, value)
    database = logging.getLogger("mlflow.store.db.utils")
    if database.level == logging.NOTSET:
        # MLflow logs every failed SQL write with its traceback before it raises it again; the raised error is the
        # one sweeplab reports, on one line (a full disk printed 1,500 lines).
        database.setLevel(logging.CRITICAL)
    tensorflow = logging.getLogger("tensorflow")
    if tensorflow.level == logging.NOTSET:
        # Every trial builds a new model, so TensorFlow's "retracing" warnings are expected, not a problem.
        tensorflow.setLevel(logging.ERROR)
    quiet_warnings()


def quiet_warnings() -> None:
    """Silence the libraries' warnings that are not the user's to act on; called when work starts (by
    :func:`configure`, and before a sweep file is parsed: parsing imports Optuna)."""
    # mlflow's SQL store trips SQLAlchemy 2.x deprecation warnings that are mlflow's to fix, not ours; its model
    # logging advises on type hints a raw-text model does not need.
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(mlflow|sqlalchemy|alembic)(\.|$)")
    warnings.filterwarnings("ignore", message=r".*(Add type hints|Inferred schema contains integer)")
    # In a Jupyter kernel without ipywidgets (JupyterLab does not install it), the first import of tqdm.auto (by
    # Optuna and MLflow as they load) warns "IProgress not found. Please update jupyter and ipywidgets" in a red box
    # above the first sweep's output; sweeplab's bar is then tqdm's text bar, which shows fine (looked at in
    # JupyterLab 4.4 through Chromium, with and without ipywidgets).
    warnings.filterwarnings("ignore", message=r"IProgress not found")


def check_backend() -> None:
    """Refuse a Keras on another backend than TensorFlow, chosen by KERAS_BACKEND or already loaded (a notebook):
    every trial would fail on a symbolic tensor (measured with jax: both trials of ``smoke`` failed)."""
    import sys

    from sweeplab.errors import SweepLabError

    keras = sys.modules.get("keras")
    loaded = keras.backend.backend() if keras is not None and hasattr(keras, "backend") else None
    if loaded not in (None, "tensorflow"):
        raise SweepLabError(f"Keras in this process runs on {loaded}: sweeplab trains with TensorFlow; start a new "
                            "process with KERAS_BACKEND=tensorflow")
    chosen = os.environ.get("KERAS_BACKEND", "tensorflow")
    if loaded is None and chosen != "tensorflow":
        raise SweepLabError(f"KERAS_BACKEND is {chosen!r}: sweeplab trains with TensorFlow; unset it or set it to "
                            "tensorflow")


def cores() -> int:
    """The cores this process may run on (a container's or taskset's share, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
