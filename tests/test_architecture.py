"""The architecture the folders promise: each layer imports only from the layers below it, and importing sweeplab
changes nothing in the process."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "sweeplab"
# Bottom to top. A module may import from its own layer and the layers below, never from one above.
LAYERS = [
    {"errors", "files", "names", "urls", "versions", "tags", "advice", "runtime", "statistics", "processes", "plugins",
     "environment", "constraints"},
    {"data"},
    {"modeling"},
    {"engines"},  # propose configurations; the sweep parser asks each to check its own options
    {"config"},
    {"search"},
    {"tracking"},
    {"results"},
    {"serving"},
    {"api", "__init__"},
    {"cli", "__main__"},
]


def layer_of(dotted: str) -> int:
    part = dotted.split(".")[1] if dotted.count(".") else "__init__"
    for number, names in enumerate(LAYERS):
        if part in names:
            return number
    raise AssertionError(f"sweeplab.{part} is in no layer: add it to LAYERS")


def imports(path: Path):
    """Every sweeplab module a file imports, at the top or inside a function."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "sweeplab":
            if node.module == "sweeplab":  # from sweeplab import data, api, ...
                yield from (f"sweeplab.{alias.name}" for alias in node.names)
            else:
                yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.split(".")[0] == "sweeplab")
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module" and node.args \
                and isinstance(node.args[0], ast.Constant) and str(node.args[0].value).startswith("sweeplab."):
            yield node.args[0].value


MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_from_a_layer_above_its_own(path):
    dotted = "sweeplab." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
    own = layer_of(dotted if not dotted.endswith(".__init__") or dotted.count(".") > 1 else "sweeplab")
    above = sorted({name for name in imports(path) if name != "sweeplab.__version__" and layer_of(name) > own})
    assert not above, f"{dotted} (layer {own}) imports from above: {above}"


def test_the_layer_check_catches_an_upward_import(tmp_path):
    upward = tmp_path / "upward.py"
    upward.write_text("def f():\n    from sweeplab.tracking import Tracker\n")
    assert max(layer_of(name) for name in imports(upward)) > layer_of("sweeplab.search.runner")


# numpy and scikit-learn add warning filters and environment variables of their own when imported: they are
# imported first, so that what is measured is what sweeplab's own modules do.
PROBE = """
import json, logging, os, sys, warnings
import numpy, pandas, sklearn, yaml
environment, filters = dict(os.environ), list(warnings.filters)
levels = {name: logging.getLogger(name).level for name in ("tensorflow", "mlflow", "optuna")}
import sweeplab, sweeplab.api, sweeplab.cli, sweeplab.config, sweeplab.data, sweeplab.modeling.pipeline
import sweeplab.search.runner, sweeplab.tracking, sweeplab.results.leaderboard, sweeplab.results.export
print(json.dumps({
    "environment": sorted(set(os.environ.items()) ^ set(environment.items())),
    "filters": len(warnings.filters) - len(filters),
    "levels": {name: logging.getLogger(name).level == level for name, level in levels.items()},
    "heavy": sorted(m for m in ("tensorflow", "keras", "mlflow", "optuna", "matplotlib") if m in sys.modules),
}))
"""


def test_importing_sweeplab_changes_nothing_process_wide():
    from sweeplab.runtime import ENVIRONMENT

    # Without what this test process may have set already (its own imports, an earlier test's sweep).
    clean = {k: v for k, v in os.environ.items() if k not in ENVIRONMENT and not k.startswith("TF_NUM_")}
    found = json.loads(subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=clean,
                                      check=True).stdout)
    assert found == {"environment": [], "filters": 0, "levels": {"tensorflow": True, "mlflow": True, "optuna": True},
                     "heavy": []}


def test_reading_results_imports_no_training_library():
    # `sweeplab leaderboard` and friends read a store: scikit-learn (a second to import here), TensorFlow and
    # MLflow are for training and for stores that are not local SQLite files.
    probe = ("import json, sys; import sweeplab.results.leaderboard, sweeplab.cli.results; "
             "print(json.dumps(sorted(m for m in ('sklearn', 'scipy', 'tensorflow', 'keras', 'mlflow') "
             "if m in sys.modules)))")
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert json.loads(found) == []
