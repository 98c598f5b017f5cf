"""``sweeplab sweep`` (and its ``--dry-run``), ``sweeplab worker``, ``sweeplab list`` and ``sweeplab show``."""

from __future__ import annotations

from sweeplab import api
from sweeplab.advice import command


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
    from sweeplab.tracking import ui_url

    server = result.tracking_uri if result.tracking_uri.startswith(("http://", "https://")) else None
    page = ui_url(server or "http://127.0.0.1:5000", result.experiment_id, sweep.metric)
    ui = command("make ui", f"mlflow ui --backend-store-uri {result.tracking_uri}")
    print(f"logged to {result.tracking_uri} (experiment '{sweep.name}'); compare with 'sweeplab leaderboard', or "
          + (f"open {page}" if server else f"run '{ui}' and open {page}"))
    return 0


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
