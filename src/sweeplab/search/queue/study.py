"""A dataset's study: the queue of one dataset's search, and what it remembers.

One study per dataset, named ``<sweep>-<dataset>``. It holds the resolved sweep and its dataset's reference, so
``sweeplab worker`` can join it from anywhere; which engine queued it; and, while a sweep runs it, that sweep's
``host:pid`` (a second sweep of the same search is refused then: it would sample what the first samples). The
sweep holds the study through a claim, a study named ``<sweep>-<dataset>#running``: creating a study whose name
exists fails in every Optuna storage, at once for one of two processes that try together, so two sweeps started
at the same moment cannot both take it.

A resumable engine's study (Optuna's) is continued by a rerun, which must be the same search (only the settings in
:data:`MAY_CHANGE` may differ; any other difference needs ``--fresh``). Any other engine's study is queued anew by
each run, and the rerun reuses the store's finished trials through their keys.
"""

from __future__ import annotations

import contextlib
import json
import time
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
CLAIM = "#running"  # the claim's name is the study's and this: '#' is in no sweep's or dataset's name


def study_name(sweep_name: str, dataset_name: str) -> str:
    return f"{sweep_name}-{dataset_name}"


def names(storage) -> set[str]:
    return {summary.study_name for summary in optuna().get_all_study_summaries(storage)}


def load(storage, engine, sweep, dataset_name: str, worker_index: int = 0, workers: int = 1):
    """The dataset's study, with the engine's sampler and pruner for this process."""
    return optuna().load_study(study_name=study_name(sweep.name, dataset_name), storage=storage,
                               sampler=engine.sampler(sweep, worker_index, workers), pruner=engine.pruner(sweep))


def check(storage, engine, sweep, dataset, fresh: bool, join_hint: str) -> bool:
    """Claim the dataset's study for this process's sweep, or refuse in one line: another sweep runs it, another
    engine's trials are in it, or the search it would continue is not this one. True when it is to be continued,
    False when it is new or to be queued anew. Every dataset's is checked before anything trains."""
    module = optuna()
    name = study_name(sweep.name, dataset.name)
    _claim(storage, name, join_hint)
    if name not in names(storage):
        return False
    study = module.load_study(study_name=name, storage=storage, sampler=module.samplers.RandomSampler())
    attrs = study.user_attrs
    queued_by = attrs.get(ENGINE_ATTR, "optuna")  # studies made before every engine had one were Optuna's
    resumable = queued_by == "optuna" or (queued_by == engine.name and engine.resumable)
    if queued_by != engine.name and resumable and not fresh:
        raise SweepLabError(f"study {name} holds engine {queued_by}'s trials and this sweep uses engine "
                            f"{engine.name}: run with --fresh to replace it")
    continued = not fresh and engine.resumable and queued_by == engine.name
    if continued and RESUME in attrs:
        check_same_search(name, attrs, sweep, dataset)
    return continued


def open_study(storage, engine, sweep, dataset, fresh: bool, join_hint: str) -> str:
    """Create, continue or queue anew the dataset's study for a sweep run by this process; return the key that
    ties it to its MLflow parent run. ``join_hint`` says how to add workers instead."""
    module = optuna()
    name = study_name(sweep.name, dataset.name)
    if not check(storage, engine, sweep, dataset, fresh, join_hint) and name in names(storage):
        with held_stop():
            module.delete_study(study_name=name, storage=storage)
    study = module.create_study(study_name=name, storage=storage, direction="maximize", load_if_exists=True,
                                sampler=module.samplers.RandomSampler())
    if RESUME not in study.user_attrs:  # a new study (a continued one was checked above)
        with held_stop():
            study.set_user_attr(RESUME, uuid.uuid4().hex)
            study.set_user_attr(DATA_ATTR, dataset.reference)
            study.set_user_attr(DATA_SHA, dataset.integrity["sha256"])
            study.set_user_attr(ENGINE_ATTR, engine.name)
    study.set_user_attr(SWEEP_ATTR, sweep.to_dict())  # workers follow the latest total and timeout
    study.set_user_attr(OWNER, this_process())
    return study.user_attrs[RESUME]


def release(storage, study) -> None:
    """This process's sweep no longer runs the study: its claim goes."""
    if study.user_attrs.get(OWNER) == this_process():
        study.set_user_attr(OWNER, "")
    release_claim(storage, study.study_name)


def release_claim(storage, name: str) -> None:
    """Let go of the study ``name`` if this process holds it (a sweep that stopped before it opened the study)."""
    claim = _claim_of(storage, name + CLAIM)
    if claim is not None and claim[1] == this_process():
        _unclaim(storage, claim[0])


def _claim(storage, name: str, join_hint: str) -> None:
    """Hold the study ``name`` for this process, or refuse: a live sweep holds it. A claim whose process died (on
    this machine; another machine's once its trials' heartbeats stopped) is taken over."""
    module = optuna()
    for _ in range(5):
        try:
            claimed = module.create_study(study_name=name + CLAIM, storage=storage)
        except module.exceptions.DuplicatedStudyError:
            found = _claim_of(storage, name + CLAIM, wait_for_owner=True)
            if found is None:  # let go meanwhile: try again
                continue
            claim_id, owner = found
            if owner == this_process():
                return
            if owner and _runs(storage, name, owner):
                raise SweepLabError(f"study {name}: a sweep in process {owner} is running it; {join_hint}, or wait "
                                    "for it") from None
            _unclaim(storage, claim_id)  # its process died
            continue
        with held_stop():
            claimed.set_user_attr(OWNER, this_process())
        return
    raise SweepLabError(f"study {name}: other processes keep taking it; {join_hint}, or wait for them")


def _claim_of(storage, claim: str, wait_for_owner: bool = False) -> tuple[int, str] | None:
    """(its id, the process holding it) of a claim, or None when there is none. A claim is made in two steps
    (created, then its owner written): ``wait_for_owner`` gives a claim seen between them a moment to finish."""
    for attempt in range(3 if wait_for_owner else 1):
        try:
            claim_id = storage.get_study_id_from_name(claim)
            owner = storage.get_study_user_attrs(claim_id).get(OWNER, "")
        except KeyError:
            return None
        if owner:
            break
        if attempt < 2 and wait_for_owner:
            time.sleep(0.5)
    return claim_id, owner


def _unclaim(storage, claim_id: int) -> None:
    """Delete the claim ``claim_id``: by its id, so that a claim made anew meanwhile (another study) stays."""
    with held_stop(), contextlib.suppress(KeyError):
        storage.delete_study(claim_id)


def _runs(storage, name: str, owner: str) -> bool:
    """Whether the sweep ``owner`` (host:pid) still runs the study: its process is alive on this machine, or
    (another machine's, which cannot be asked) trials of the study are still running after the stale ones were
    failed. A claim without an owner was left by a process that died while making it."""
    if dead_here(owner):
        return False
    if owner.rpartition(":")[0] == this_process().rpartition(":")[0]:
        return True
    module = optuna()
    try:
        study = module.load_study(study_name=name, storage=storage, sampler=module.samplers.RandomSampler())
    except KeyError:
        return False
    module.storages.fail_stale_trials(study)
    return bool(real(study, "RUNNING"))


def joinable(storage, sweep_name: str, datasets: list | None = None) -> list[tuple[dict, dict, str]]:
    """(resolved sweep, dataset reference, the data's sha256) of the studies of this sweep in the storage that a
    worker joins: those of ``datasets``, in that order, or every one a sweep runs now."""
    found = {}
    for summary in optuna().get_all_study_summaries(storage):
        attrs = summary.user_attrs
        if summary.study_name.startswith(f"{sweep_name}-") and SWEEP_ATTR in attrs and (
                datasets is not None or attrs.get(OWNER)):
            found[summary.study_name] = (attrs[SWEEP_ATTR], attrs[DATA_ATTR], attrs.get(DATA_SHA))
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
