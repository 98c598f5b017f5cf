"""``sweeplab leaderboard``, ``sweeplab report``, ``sweeplab compare`` and ``sweeplab export``."""

from __future__ import annotations

from sweeplab import api


def cmd_leaderboard(args) -> int:
    from sweeplab.results import leaderboard

    top = 5 if args.top is None and not args.pivot else args.top
    frame = api.leaderboard(args.sweep, args.source, metric=args.metric, top=top,
                            pivot=args.pivot, tracking_uri=args.tracking_uri)
    print(leaderboard.render(frame, args.format, pivoted=args.pivot))
    return 0


def cmd_report(args) -> int:
    written = api.report(args.sweep, out=args.out, tracking_uri=args.tracking_uri)
    print(f"wrote {written.html} (open it in a browser; it needs no network) and {written.markdown}")
    for view in written.report.datasets:
        for advice in view.advice:
            print(f"  {view.source}: {advice.text}")
    return 0


def cmd_compare(args) -> int:
    import sys

    from sweeplab.results import comparison

    found = api.compare(args.sweep, alpha=args.alpha, transfer=not args.no_transfer, tracking_uri=args.tracking_uri,
                        progress=lambda line: print(line, file=sys.stderr))
    print(comparison.to_json(found) if args.format == "json" else comparison.render(found))
    return 0


def cmd_export(args) -> int:
    from sweeplab.search.progress import format_params

    exp = api.export(args.sweep, args.source, rank=args.rank, select=args.select, family=args.family, out=args.out,
                     tracking_uri=args.tracking_uri)
    origin, metric = exp.origin, exp.origin["metric"]
    print(f"wrote {exp.path}: {exp.model} ({format_params({**exp.params, **exp.fit})})")
    print(f"  rank {origin['rank']} of sweep '{args.sweep}' on {args.source} (select: {origin['select']}"
          f"{', tied with the best' if origin['tied_with_best'] else ''}): cv {metric} "
          f"{origin[f'cv_{metric}_mean']:.3f} ± {origin[f'cv_{metric}_std']:.3f} (run {origin['run_id']})")
    print(f"  retrain it with: sweeplab retrain {exp.path}")
    return 0
