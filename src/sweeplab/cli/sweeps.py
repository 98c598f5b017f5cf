"""``sweeplab sweep`` (and its ``--dry-run``), ``sweeplab worker``, ``sweeplab list`` and ``sweeplab show``."""

from __future__ import annotations

from sweeplab import api
from sweeplab.advice import command
from sweeplab.search.progress import format_params


def cmd_sweep(args) -> int:
    options = dict(sources=args.source, data=args.data, text_col=args.text_col, label_col=args.label_col,
                   engine=args.engine, trials=args.trials, folds=args.folds, epochs=args.epochs, seed=args.seed,
                   nested=args.nested,
                   tracking_uri=args.tracking_uri, storage=args.storage, fresh=args.fresh, workers=args.workers,
                   heartbeat=args.heartbeat)
    if args.dry_run:
        sweep = api.resolve_sweep(args.space)
        _print_plans(sweep.override(engine=args.engine, trials=args.trials, folds=args.folds, epochs=args.epochs,
                                    seed=args.seed, nested=args.nested),
                     api.plan(args.space, **options, progress="lines"))
        return 0
    result = api.sweep(args.space, **options, progress="lines")
    sweep = result.sweep
    print(f"{sweep.metric} (winner: select {sweep.select}):\n{'source':<10} {'winner cv [95 % interval]':>27} "
          f"{'tied':>7} {'test':>6} {'optimism':>8} {'bow test':>8} {'lift':>7}")
    for r in result.datasets:
        low, high = r.interval()
        print(f"{r.source:<10} {r.winner.mean:>7.3f} [{low:.3f}, {high:.3f}] {len(r.tied):>3} of {_complete(r):<3}"
              f"{r.test_score:>6.3f} {r.optimism:>+8.3f} {r.baseline.test_score:>8.3f} "
              f"{r.test_score - r.baseline.test_score:>+7.3f}")
    _print_next(result)
    return 0


def _print_next(result) -> None:
    """What happened per dataset (the winner, where its run is, the advice), where the report is, and the next
    commands."""
    from sweeplab.tracking import run_url, ui_url

    sweep = result.sweep
    server = result.tracking_uri if result.tracking_uri.startswith(("http://", "https://")) else None
    base = server or "http://127.0.0.1:5000"
    ui = command("make ui", f"mlflow ui --backend-store-uri {result.tracking_uri}")
    views = {view.source: view for view in result.report.report.datasets} if result.report else {}
    for r in result.datasets:
        view = views.get(r.source)
        low, high = r.interval()
        shown = view.shown(view.winner()) if view is not None and view.winner() else format_params(r.winner.params)
        print(f"\n{r.source}: winner trial {r.winner.number} ({shown}), cv {sweep.metric} {r.winner.mean:.3f} "
              f"[{low:.3f}, {high:.3f}], test {r.test_score:.3f} against the bag-of-words baseline's "
              f"{r.baseline.test_score:.3f}; its run: {run_url(base, result.experiment_id, r.run_id)}")
        for advice in view.advice if view is not None else ():
            print(f"  advice: {advice.text}")
    if result.report is not None:
        print(f"\nreport: {result.report.html} (opens in a browser without network; logged on each dataset's run "
              "too)")
    else:
        print(f"\nno report: {result.report_problem}")
    first = result.datasets[0].source
    export = command(f"make export SPACE={sweep.name} SOURCE={first}", f"sweeplab export {sweep.name} --source {first}")
    retrain = command(f"make retrain EXPERIMENT=experiments/{sweep.name}-{first}.yaml",
                      f"sweeplab retrain experiments/{sweep.name}-{first}.yaml")
    print(f"next: '{export}' writes {first}'s winner to an experiment file, then '{retrain}' trains it into one "
          "raw-text model, tests it once and registers it")
    print(f"logged to {result.tracking_uri} (experiment '{sweep.name}'); the trials, best first: "
          + (f"open {ui_url(base, result.experiment_id, sweep.metric)}" if server else
             f"run '{ui}' and open {ui_url(base, result.experiment_id, sweep.metric)}"))


def _complete(result) -> int:
    return sum(t.ok for t in result.trials)


def _print_plans(sweep, plans) -> None:
    from sweeplab.search.progress import duration

    for plan in plans:
        trials = f"{plan.planned} trials" if plan.known else f"a budget of {plan.planned} trials"
        to_train = plan.planned - plan.reused - plan.finished_before
        print(f"== {sweep.name} on {plan.dataset} (dry run: nothing trains, nothing is logged): {trials} x "
              f"{sweep.folds_text()} x up to {plan.epochs} epochs ({sweep.engine})")
        done = [f"{plan.reused} finished in the store (reused, not trained)"] if plan.known else []
        done += [f"{plan.finished_before} finished in the study"] if plan.finished_before else []
        print(f"   {', '.join(done) or 'nothing finished yet'}; {max(to_train, 0)} to train")
        if plan.estimate_s is None:
            print(f"   no finished trial of {sweep.model} on this dataset in the store to estimate the time from")
        elif to_train > 0:
            print(f"   about {duration(plan.estimate_s)} of fitting, going by {plan.basis} finished trial"
                  f"{'s' if plan.basis != 1 else ''} of the same model on this dataset"
                  + ("" if plan.known else " (pruning may cut it short)"))
        if sweep.nested:
            print(f"   then nested CV: the whole search {sweep.nested} more times, on {sweep.nested - 1}/"
                  f"{sweep.nested} of the training split each (not counted above)")
        takers = f"{plan.workers} processes take" if plan.workers > 1 else "this process takes"
        at_once = f", up to {sweep.fuse} at a time (fuse)" if sweep.fuse > 1 else ""
        print(f"   the trials wait in one queue at {plan.storage}: {takers} them{at_once}; another shell or "
              f"machine joins with 'sweeplab worker {sweep.name} --storage {plan.storage}'")


def cmd_worker(args) -> int:
    api.join(args.space, args.storage, dataset=args.dataset, tracking_uri=args.tracking_uri,
             heartbeat=args.heartbeat, worker_index=args.worker_index, workers=args.workers)
    return 0


def cmd_list(args) -> int:
    from sweeplab import config

    built_in = config.built_in_dir().resolve()
    for name, path in api.sweep_names().items():
        where = "built-in" if path.resolve().parent == built_in else str(path)
        try:
            sweep = config.load_sweep(str(path))
            trials = f"{sweep.trials} trial{'s' * (sweep.trials != 1)}"
            what = f"{sweep.model} via {sweep.engine}, {trials} x {sweep.folds_text()}"
            about = sweep.description.strip().splitlines()[0] if sweep.description.strip() else ""
        except Exception as exc:  # one broken local file should not hide the others
            what, about = "cannot be read", str(exc)
        print(f"{name:<16} {what:<52} {where}" + (f"\n{'':<16} {about}" if about else ""))
    return 0


def cmd_show(args) -> int:
    import yaml

    sweep = api.resolve_sweep(args.space)
    print(f"# {sweep.path}: the sweep as it runs, defaults filled in")
    print(yaml.safe_dump(sweep.to_dict(), sort_keys=False, allow_unicode=True), end="")
    return 0
