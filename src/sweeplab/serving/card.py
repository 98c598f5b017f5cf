"""A retrained model's card: what it is and how good, so that the registry page (and the markdown file beside the
``.keras`` file) answers both without a look at the runs. The registered version gets the card as its description
and the facts as tags; the same facts come from the experiment file (what the sweep measured) and the retrain
(what the model scored on the held-out split)."""

from __future__ import annotations

from sweeplab import versions
from sweeplab.tags import DATA_SHA, EXPERIMENT_FILE, GIT_COMMIT, GIT_DIRTY, PREFIX, SWEEP

# The registered version's tags beyond the shared names of sweeplab.tags.
CV, CV_INTERVAL, TEST, BASELINE_TEST = PREFIX + "cv", PREFIX + "cv_interval", PREFIX + "test", PREFIX + "baseline_test"
TRIAL_RUN, RETRAIN_RUN, METRIC = PREFIX + "trial_run", PREFIX + "retrain_run", PREFIX + "card_metric"


def facts(experiment, retrained, run_id: str) -> dict:
    """The card's facts, as tags: each a string."""
    origin, metric = experiment.origin, experiment.origin.get("metric", "accuracy")
    evaluation = retrained.evaluation
    found = {
        DATA_SHA: experiment.data["sha256"], SWEEP: experiment.sweep, EXPERIMENT_FILE: experiment.path,
        TRIAL_RUN: origin.get("run_id", ""), RETRAIN_RUN: run_id, METRIC: metric,
        CV: _value(origin.get(f"cv_{metric}_mean")),
        CV_INTERVAL: _interval(origin.get(f"cv_{metric}_ci_low"), origin.get(f"cv_{metric}_ci_high")),
        TEST: "" if evaluation is None else _value(getattr(evaluation, "macro_f1" if metric == "macro_f1" else
                                                             "accuracy")),
        BASELINE_TEST: _value(origin.get(f"baseline_test_{metric}")),
    }
    source = versions.provenance()
    if GIT_COMMIT in source:
        found[GIT_COMMIT] = source[GIT_COMMIT]
        found[GIT_DIRTY] = source.get(GIT_DIRTY, "")
    return {key: value for key, value in found.items() if value}


def card(experiment, retrained, run_id: str, version: str | None = None) -> str:
    """The card as markdown."""
    from sweeplab.search.progress import format_params

    tags, origin = facts(experiment, retrained, run_id), experiment.origin
    metric, evaluation = tags[METRIC], retrained.evaluation
    classes = ", ".join(map(str, retrained.dataset.classes))
    title = f"# {experiment.name}" + (f", version {version}" if version else "")
    if evaluation is None:
        tested = (f"trained on all {retrained.n_train:,} rows (train + test): no held-out score is left; the sweep's "
                  f"refit scored {_value(origin.get(f'sweep_test_{metric}')) or 'n/a'} on the test split")
    else:
        baseline = f" against the bag-of-words baseline's {tags[BASELINE_TEST]}" if BASELINE_TEST in tags else ""
        other = f"macro-F1 {evaluation.macro_f1:.3f}" if metric == "accuracy" else f"accuracy {evaluation.accuracy:.3f}"
        tested = (f"held-out test {metric} **{tags.get(TEST, 'n/a')}**{baseline} on {retrained.n_test:,} rows "
                  f"({other})")
    revision = tags.get(GIT_COMMIT, "not recorded (not run in a git checkout)") + \
        (" with changes not committed" if tags.get(GIT_DIRTY) == "true" else "")
    return "\n".join([
        title, "",
        f"A text classifier: raw text in, the probability of each class ({classes}) out. A `{experiment.model}` "
        f"model trained by sweeplab on {retrained.n_train:,} rows of `{retrained.dataset.name}`.", "",
        "## How good", "",
        f"- {tested}",
        f"- the sweep's cross-validation: {metric} {tags.get(CV, 'n/a')} "
        f"{tags.get(CV_INTERVAL, '')} ({origin.get('folds', '?')} folds"
        + (", tied with the best trial" if origin.get("tied_with_best") else "") + ")", "",
        "## Where it comes from", "",
        f"- sweep `{experiment.sweep or 'n/a'}`, trial run `{origin.get('run_id', 'n/a')}`, retrain run `{run_id}`",
        f"- experiment file `{experiment.path}`",
        f"- data sha256 `{experiment.data['sha256']}` ({experiment.data.get('rows', '?')} rows)",
        f"- code revision {revision}; " + ", ".join(f"{k} {v}" for k, v in versions.current().items()
                                                    if k in ("sweeplab", "tensorflow-cpu", "keras")), "",
        "## Configuration", "",
        f"`{format_params({**experiment.params, **experiment.fit})}`", "",
        "## Use", "",
        f"`sweeplab predict models:/{experiment.name}/{version or 'VERSION'} \"some text\"`, or "
        f"`sweeplab serve models:/{experiment.name}/{version or 'VERSION'}` and POST texts to /invocations.", ""])


def _value(value) -> str:
    return "" if value is None or value != value else f"{float(value):.3f}"


def _interval(low, high) -> str:
    return "" if low is None or high is None else f"[{float(low):.3f}, {float(high):.3f}]"
