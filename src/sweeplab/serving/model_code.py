"""The code MLflow runs to load a sweeplab pyfunc model ("models from code": no pickled Python object in it)."""

from mlflow.models import set_model

from sweeplab.serving.pyfunc import RawTextClassifier

set_model(RawTextClassifier())
