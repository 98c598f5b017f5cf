"""``optuna``: Optuna's samplers and pruners choose configurations, with pruning *inside* k-fold CV.

Options (``engine: {name: optuna, sampler: ..., pruner: ...}``, or ``sampler:`` and ``pruner:`` at the top of the
sweep file): see :mod:`~sweeplab.engines.optuna_settings`.

**Steps.** A pruner compares trials by the values they report at the same step. With E the most epochs the
sweep allows, fold f (from 1; with ``repeats``, the folds of later repeats number on: repeat r's fold j is
fold (r - 1) k + j) reports

- after epoch e, the fold's validation score (the sweep's metric), at step (f - 1) * (E + 1) + e;
- when the fold ends, the mean score of the folds finished so far, at step f * (E + 1);

so a step means the same point of training in every trial, and a trial is cut after its first bad epochs or
after its first bad fold. A trial with fewer epochs leaves the later epoch steps of each fold empty.

**Studies.** The study of a dataset persists (the engine is resumable): ``trials`` is a total, and a rerun
continues the study until it holds that many finished (COMPLETE or PRUNED) trials; ``--fresh`` starts over. A
failed trial is replaced by a new slot while failures are fewer than ``trials``. The queue
(:mod:`sweeplab.search.queue`) holds the rest: slots, workers, heartbeats, retries.
"""

from __future__ import annotations

import warnings

from sweeplab.engines import optuna_settings, register
from sweeplab.engines.base import Engine, Judge, Stop
from sweeplab.errors import first_line, held_stop


def _optuna():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # failures and prunes are reported our way
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


@register("optuna")
class OptunaEngine(Engine):
    resumable = True
    takes_top_level_options = True

    @classmethod
    def validate(cls, options: dict, fail) -> dict:
        unknown = sorted(set(options) - {"sampler", "pruner"}, key=str)
        if unknown:
            fail(unknown[0], "unknown option of engine optuna, expected sampler and pruner")
        return {key: optuna_settings.compact(optuna_settings.parse_choice(key, options.get(key, default), fail))
                for key, default in (("sampler", "tpe"), ("pruner", "median"))}

    @classmethod
    def check_sweep(cls, sweep, fail) -> None:
        """The grid sampler needs finite values and one family; the sampler's and pruner's option values are
        the ones Optuna accepts (built once here, not when the first trial asks)."""
        sampler, pruner = _choice(sweep, "sampler"), _choice(sweep, "pruner")
        if sampler["name"] == "grid":
            if sweep.families:
                fail("sampler", "the grid sampler cannot search across model families: use tpe or random")
            for name, param in sweep.space.items():
                if param.grid_values() is None:
                    fail(f"space.{name}", "the grid sampler needs a list or a range with a step")
        for key, choice in (("sampler", sampler), ("pruner", pruner)):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    optuna_settings.build(key, choice, sweep, **({"seed": sweep.seed} if key == "sampler" else {}))
            except (TypeError, ValueError) as exc:
                fail(key, f"{choice['name']} refuses its options ({first_line(exc)})")

    def _grid(self, sweep) -> bool:
        return _choice(sweep, "sampler")["name"] == "grid"

    def planned(self, sweep) -> int:
        return len(self.proposals(sweep)) if self._grid(sweep) else sweep.trials

    def proposals(self, sweep) -> list[dict] | None:
        if not self._grid(sweep):
            return None
        from sklearn.model_selection import ParameterGrid

        return list(ParameterGrid({name: p.grid_values() for name, p in sweep.searched().items()}))

    def queued_params(self, chosen: dict) -> dict:
        return dict(chosen)  # the grid sampler's points, which suggest() then returns

    def replaces_failures(self, sweep) -> bool:
        return not self._grid(sweep)

    def sampler(self, sweep, worker_index: int, workers: int):
        # The same seed in two workers would sample the same configurations.
        return optuna_settings.build("sampler", _choice(sweep, "sampler"), sweep, workers,
                                     seed=sweep.seed + worker_index)

    def pruner(self, sweep):
        return optuna_settings.build("pruner", _choice(sweep, "pruner"), sweep)

    def choose(self, sweep, trial) -> dict:
        return suggest(sweep, trial)

    def recorded(self, trial) -> dict:
        # Studies begun before the queue recorded every trial's configuration hold it as Optuna parameters.
        return super().recorded(trial) or chosen_from(trial.params)

    def judge(self, sweep, trial) -> Judge:
        return _Pruning(trial, sweep)


class _Pruning(Judge):
    """Reports every epoch and fold to the study at its step (see the module's docstring); stops a trial the
    pruner cuts."""

    def __init__(self, trial, sweep):
        self.trial, self.metric, self.span = trial, sweep.metric, span(sweep)

    def epoch(self, fold: int, epoch: int, value: float) -> None:
        self._report(value, (fold - 1) * self.span + epoch, f"fold {fold} epoch {epoch}")

    def fold(self, fold: int, running_mean: float) -> None:
        self._report(running_mean, fold * self.span, f"the end of fold {fold}")

    def _report(self, value: float, step: int, where: str) -> None:
        with held_stop():  # a stop inside the storage's driver could leave the study's database locked
            self.trial.report(value, step)
            prune = self.trial.should_prune()
        if prune:
            raise Stop(f"pruned at {where} ({self.metric} {value:.3f}, step {step})")


def _choice(sweep, key: str) -> dict:
    return optuna_settings.expanded(sweep.engine_options[key])


def span(sweep) -> int:
    """Steps per fold: E epochs, then the running mean."""
    return sweep.max_epochs() + 1


# --- what a study samples ----------------------------------------------------------------------------------------


def suggest(sweep, trial) -> dict:
    """An Optuna trial's choices: the family first, then the parameters that exist for it.

    A family's own parameters are named ``<family>.<name>`` in the study, so that two families may give the same
    parameter different ranges; :func:`chosen_from` reads them back.
    """
    chosen = {}
    if sweep.families:
        chosen["model"] = trial.suggest_categorical("model", list(sweep.families))
    family = sweep.families.get(chosen.get("model"), {})
    for name, param in sweep.searched(chosen.get("model")).items():
        chosen[name] = _suggest_one(param, trial, f"{chosen['model']}.{name}" if name in family else name)
    return chosen


def _suggest_one(param, trial, key: str):
    """Ask an Optuna trial for a parameter's value, under ``key`` in the study."""
    if param.values:
        return trial.suggest_categorical(key, list(param.values))
    if param.integer:
        return trial.suggest_int(key, int(param.low), int(param.high), step=int(param.step or 1), log=param.log)
    return trial.suggest_float(key, param.low, param.high, step=param.step, log=param.log)


def chosen_from(study_params: dict) -> dict:
    """The sweep's names for what :func:`suggest` chose."""
    return {key.split(".", 1)[-1]: value for key, value in study_params.items()}
