"""A dataset's study: the queue of one dataset's search, and what it remembers.

One study per dataset, named ``<sweep>-<dataset>``. It holds the resolved sweep and its dataset's reference, so
``sweeplab worker`` can join it from anywhere; which engine queued it; and, while a sweep runs it, that sweep's
``host:pid`` (a second sweep of the same search is refused then: it would sample what the first samples).

A resumable engine's study (Optuna's) is continued by a rerun, which must be the same search (only the settings in
:data:`MAY_CHANGE` may differ; any other difference needs ``--fresh``). Any other engine's study is queued anew by
each run, and the rerun reuses the store's finished trials through their keys.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter

from sweeplab.errors import SweepLabError, held_stop
from sweeplab.processes import dead_here, this_process
from sweeplab.search.queue.storage import optuna
from sweeplab.search.trial import COMPLETE, FAIL, PRUNED, TrialResult
from sweeplab.tags import (CANDIDATE, CHOSEN, DATA_ATTR, DATA_SHA, ENGINE_ATTR, FIT_TIME, FOLD_MEASURES, FOLD_SCORES,
                           NOTE, OWNER, RESUME, SLOT, SURPLUS, SWEEP_ATTR)

# Settings that may change between runs of one study; any other difference needs --fresh.
MAY_CHANGE = {"trials", "timeout", "description", "sources", "path", "fuse", "onednn"}
LOST = "the trial's process stopped (or its heartbeat came late)"


def study_name(sweep_name: str, dataset_name: str) -> str:
    return f"{sweep_name}-{dataset_name}"


def names(storage) -> set[str]:
    return {summary.study_name for summary in optuna().get_all_study_summaries(storage)}


def load(storage, engine, sweep, dataset_name: str, worker_index: int = 0, workers: int = 1):
    """The dataset's study, with the engine's sampler and pruner for this process."""
    return optuna().load_study(study_name=study_name(sweep.name, dataset_name), storage=storage,
                               sampler=engine.sampler(sweep, worker_index, workers), pruner=engine.pruner(sweep))


def open_study(storage, engine, sweep, dataset, fresh: bool, join_hint: str) -> str:
    """Create, continue or queue anew the dataset's study for a sweep run by this process; return the key that
    ties it to its MLflow parent run. ``join_hint`` says how to add workers instead."""
    module = optuna()
    name = study_name(sweep.name, dataset.name)
    if name in names(storage):
        study = module.load_study(study_name=name, storage=storage, sampler=module.samplers.RandomSampler())
        attrs = study.user_attrs
        if not fresh:
            _check_not_running(study, name, join_hint)
        queued_by = attrs.get(ENGINE_ATTR, "optuna")  # studies made before every engine had one were Optuna's
        resumable = queued_by == "optuna" or (queued_by == engine.name and engine.resumable)
        if queued_by != engine.name and resumable and not fresh:
            raise SweepLabError(f"study {name} holds engine {queued_by}'s trials and this sweep uses engine "
                                f"{engine.name}: run with --fresh to replace it")
        if fresh or not (engine.resumable and queued_by == engine.name):
            with held_stop():
                module.delete_study(study_name=name, storage=storage)
    study = module.create_study(study_name=name, storage=storage, direction="maximize", load_if_exists=True,
                                sampler=module.samplers.RandomSampler())
    attrs = study.user_attrs
    if RESUME in attrs:
        check_same_search(name, attrs, sweep, dataset)
    else:
        with held_stop():
            study.set_user_attr(RESUME, uuid.uuid4().hex)
            study.set_user_attr(DATA_ATTR, dataset.reference)
            study.set_user_attr(DATA_SHA, dataset.integrity["sha256"])
            study.set_user_attr(ENGINE_ATTR, engine.name)
    study.set_user_attr(SWEEP_ATTR, sweep.to_dict())  # workers follow the latest total and timeout
    study.set_user_attr(OWNER, this_process())
    return study.user_attrs[RESUME]


def release(study) -> None:
    """This process's sweep no longer runs the study."""
    if study.user_attrs.get(OWNER) == this_process():
        study.set_user_attr(OWNER, "")


def _check_not_running(study, name: str, join_hint: str) -> None:
    """Refuse a second sweep of a search another one runs: its process is alive on this machine, or (another
    machine's, which cannot be asked) trials of the study are still running after the stale ones were failed."""
    owner = study.user_attrs.get(OWNER)
    if not owner or owner == this_process() or dead_here(owner):
        return
    host = owner.rpartition(":")[0]
    if host == this_process().rpartition(":")[0]:
        alive = True
    else:
        optuna().storages.fail_stale_trials(study)
        alive = bool(real(study, "RUNNING"))
    if alive:
        raise SweepLabError(f"study {name}: a sweep in process {owner} is running it; {join_hint}, or wait for it")


def joinable(storage, sweep_name: str, datasets: list | None = None) -> list[tuple[dict, dict]]:
    """(resolved sweep, dataset reference) of the studies of this sweep in the storage that a worker joins: those
    of ``datasets``, in that order, or every one a sweep runs now."""
    found = {}
    for summary in optuna().get_all_study_summaries(storage):
        attrs = summary.user_attrs
        if summary.study_name.startswith(f"{sweep_name}-") and SWEEP_ATTR in attrs and (
                datasets is not None or attrs.get(OWNER)):
            found[summary.study_name] = (attrs[SWEEP_ATTR], attrs[DATA_ATTR])
    if datasets is None:
        return list(found.values())
    return [found[name] for name in (study_name(sweep_name, d) for d in datasets) if name in found]


def real(study, *states: str) -> list:
    """The study's trials in these states, leaving out the surplus ones that never ran."""
    from optuna.trial import TrialState

    wanted = tuple(TrialState[s] for s in states)
    return [t for t in study.get_trials(deepcopy=False, states=wanted) if not t.user_attrs.get(SURPLUS)]


def running(study) -> set:
    return {t.number for t in real(study, "RUNNING")}


def fill(study, engine, sweep) -> None:
    """Queue what the study still lacks: each known candidate not yet taken, or the missing number of slots."""
    taken = real(study, "COMPLETE", "PRUNED", "RUNNING", "WAITING")
    proposals = engine.proposals(sweep)
    if proposals is None:
        for _ in range(sweep.trials - len(taken)):
            study.enqueue_trial({}, user_attrs={SLOT: True})
        return
    counts = Counter(_key(engine.recorded(t)) for t in taken)
    for index, chosen in enumerate(proposals):
        if counts[_key(chosen)]:
            counts[_key(chosen)] -= 1
            continue
        study.enqueue_trial(engine.queued_params(chosen), user_attrs={SLOT: True, CHOSEN: chosen, CANDIDATE: index})


def _key(chosen: dict) -> str:
    return json.dumps(chosen, sort_keys=True, default=str)


def results(study, engine, sweep) -> list[TrialResult]:
    """Every trial that ran, but for those retried after their process died: known candidates in their order."""
    from optuna.storages import RetryHeartbeatStaleTrialCallback

    retried = {number for t in study.get_trials(deepcopy=False)
               for number in RetryHeartbeatStaleTrialCallback.retry_history(t)}
    ran = [t for t in real(study, "COMPLETE", "PRUNED", "FAIL") if not (t.state.name == "FAIL" and t.number in retried)]
    ran.sort(key=lambda t: (t.user_attrs.get(CANDIDATE, t.number), t.number))
    return [result(t, engine, sweep) for t in ran]


def result(trial, engine, sweep) -> TrialResult:
    state = {"COMPLETE": COMPLETE, "PRUNED": PRUNED}.get(trial.state.name, FAIL)
    note = trial.user_attrs.get(NOTE) or (None if state != FAIL else LOST)
    return TrialResult(
        number=trial.number, params=sweep.configuration(engine.recorded(trial)),
        fold_scores=tuple(trial.user_attrs.get(FOLD_SCORES, ())),
        fit_time=trial.user_attrs.get(FIT_TIME, 0.0), state=state, note=note,
        fold_measures=tuple(trial.user_attrs.get(FOLD_MEASURES, ())),
    )


def check_same_search(name: str, attrs: dict, sweep, dataset) -> None:
    from sweeplab.config import normal_form

    if attrs.get(DATA_SHA) != dataset.integrity["sha256"]:
        raise SweepLabError(f"study {name}: its data had sha256 {attrs.get(DATA_SHA)}, "
                            f"{dataset.integrity['path']} now has {dataset.integrity['sha256']}; use --fresh")
    # Studies begun before sweeps had a metric ranked by accuracy; before engines held their options, the
    # sampler and pruner stood at the top of the sweep.
    before, now = {"metric": "accuracy", **attrs.get(SWEEP_ATTR, {})}, sweep.to_dict()
    before, now = normal_form(before, f"study {name}"), normal_form(now, f"study {name}")
    for key in sorted(set(before) | set(now)):
        if key not in MAY_CHANGE and before.get(key) != now.get(key):
            raise SweepLabError(f"study {name}: '{key}' was {before.get(key)!r} when the study began, now "
                                f"{now.get(key)!r}; run with --fresh to start a new study")
