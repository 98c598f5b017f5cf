"""From an experiment file to a served model: retraining it into one raw-text model (:mod:`.retrain`), and that
model as an MLflow pyfunc model (:mod:`.pyfunc`, loaded from code by :mod:`.model_code`)."""

# Models logged by sweeplab 0.2.0 load with code that imports RawTextClassifier from here.
from sweeplab.serving.pyfunc import RawTextClassifier, log_model

__all__ = ["RawTextClassifier", "log_model"]
