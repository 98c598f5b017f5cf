"""The raw-text model as an MLflow pyfunc model: what the Model Registry, ``mlflow.pyfunc.load_model`` and
``mlflow models serve`` use.

Input: a DataFrame with a ``text`` column of raw strings. Output: one row per text with ``label`` (the original
label name), its ``probability`` and ``p_<label>`` for every class. The ``.keras`` file is the model's only
artifact; the code that reads it is sweeplab's, so serve from an environment where sweeplab is installed (this
project's ``.venv``, with ``--env-manager local``).
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd

from sweeplab import versions
from sweeplab.errors import SweepLabError
from sweeplab.modeling import textmodel

ARTIFACT = "keras_model"
# What the model's own environment needs besides sweeplab, pinned to what trained it.
REQUIREMENTS = ("tensorflow-cpu", "keras", "mlflow", "pandas", "numpy", "scikit-learn")


class RawTextClassifier(mlflow.pyfunc.PythonModel):
    """Logged as code (``pyfunc_model.py``), so loading it unpickles nothing."""

    def load_context(self, context):
        self.model = textmodel.load_text_model(context.artifacts[ARTIFACT])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        """Labels for raw texts; anything else (a null, a number, an object, too many or too long texts) is
        MLflow's INVALID_PARAMETER_VALUE, which its scoring server answers with 400 and the message."""
        from mlflow.exceptions import MlflowException

        try:
            return textmodel.predict(self.model, texts_of(model_input))
        except (SweepLabError, ValueError) as exc:
            raise MlflowException.invalid_parameter_value(str(exc)) from None


def texts_of(model_input) -> list:
    """The texts of a pyfunc input: a DataFrame's ``text`` column (or its only column), or a list of strings."""
    if isinstance(model_input, pd.DataFrame):
        if textmodel.INPUT in model_input.columns:
            return model_input[textmodel.INPUT].tolist()
        if len(model_input.columns) == 1:
            return model_input.iloc[:, 0].tolist()
        raise ValueError(f"expected a '{textmodel.INPUT}' column, got columns {list(model_input.columns)}")
    if isinstance(model_input, dict) and textmodel.INPUT in model_input:
        return list(model_input[textmodel.INPUT])
    return list(model_input)


def log_model(run, keras_path, model, examples: list[str], registered_name: str | None):
    """Log the raw-text model as an MLflow pyfunc model of ``run`` (a :class:`~sweeplab.tracking.retrain_run.
    RetrainRun`), with the .keras file beside it, and register it under ``registered_name``; MLflow's ModelInfo."""
    from sweeplab.tracking.store import using_uri

    run.client.log_artifact(run.run_id, str(keras_path))
    with using_uri(run.tracker.uri), mlflow.start_run(run_id=run.run_id):
        return _log_pyfunc(keras_path, model, examples, registered_name)


def _log_pyfunc(keras_path, model, examples: list[str], registered_name: str | None):
    from mlflow.models import infer_signature

    example = pd.DataFrame({textmodel.INPUT: examples})
    signature = infer_signature(example, textmodel.predict(model, examples))
    pinned = versions.current()
    return mlflow.pyfunc.log_model(
        name="model", python_model=str(Path(__file__).with_name("model_code.py")),
        artifacts={ARTIFACT: str(keras_path)},
        signature=signature, input_example=example, registered_model_name=registered_name,
        pip_requirements=[f"{name}=={pinned[name]}" for name in REQUIREMENTS if name in pinned],
    )
