"""``sweeplab retrain``, ``sweeplab predict`` and ``sweeplab serve``."""

from __future__ import annotations

import sys
from pathlib import Path

from sweeplab import api, data, files
from sweeplab.errors import SweepLabError


def cmd_retrain(args) -> int:
    from sweeplab.config import load_experiment

    exp = load_experiment(args.experiment)
    _warn_version_drift(exp)
    if args.all_data:
        rows = f"all {exp.data['rows']} rows" if "rows" in exp.data else "every row"  # optional in a hand-written file
        print(f"--all-data: training on {rows}, the test split included; no held-out score is left, so quote the "
              f"sweep's test accuracy ({exp.origin.get('sweep_test_accuracy', 'n/a')})")
    done = api.retrain(exp, all_data=args.all_data, early_stopping=args.early_stopping, out=args.out,
                       register=not args.no_register, tracking_uri=args.tracking_uri)
    _report_retrain(done.retrained, done.path, done.run_id, done.registered_version, done.tracking_uri)
    print(f"  its model card: {done.card}" + (" (also the registered version's description)"
                                              if done.registered_version is not None else ""))
    return 0


def _warn_version_drift(exp) -> None:
    from sweeplab import versions

    now = versions.current()
    drift = [f"{k} {v} (now {now[k]})" for k, v in exp.versions.items()
             if k in ("tensorflow-cpu", "keras", "scikit-learn", "numpy") and k in now and str(v) != now[k]]
    if drift:
        print(f"sweeplab: warning: {exp.path} was chosen with {', '.join(drift)}: scores may differ",
              file=sys.stderr)


def _report_retrain(result, out, run_id: str, version, uri: str) -> None:
    exp, evaluation = result.experiment, result.evaluation
    stopped = f", stopped early at epoch {result.epochs_run}" if result.epochs_run < exp.fit["epochs"] else ""
    held = f", {result.early_stopping['validation_split']:.0%} of them held out for early stopping" \
        if result.early_stopping else ""
    print(f"retrained {exp.name}: {exp.model} on {result.n_train} rows of {result.dataset.name}{held} in "
          f"{result.wall_time:.0f} s ({result.epochs_run} epochs{stopped})")
    metric = exp.origin.get("metric", "accuracy")  # compare in the metric the sweep ranked by
    sweep_cv = exp.origin.get(f"cv_{metric}_mean")
    sweep_test = exp.origin.get(f"sweep_test_{metric}")
    if evaluation is not None:
        print(f"  held-out test ({result.n_test} rows): accuracy {evaluation.accuracy:.3f}, "
              f"macro-F1 {evaluation.macro_f1:.3f}"
              + (f"; the sweep's cv {metric} {sweep_cv:.3f}" if sweep_cv is not None else "")
              + (f", its refit's test {metric} {sweep_test:.3f}" if sweep_test is not None else ""))
        print(f"  the raw-text model agrees with the pipeline on {evaluation.agreement:.1%} of the test texts")
    print(f"  saved {out}; logged run {run_id} to {uri}")
    if version is not None:
        print(f"  registered model '{exp.name}' version {version}: "
              f"sweeplab predict models:/{exp.name}/{version} \"some text\"")


def cmd_serve(args) -> int:
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"sweeplab: warning: --host {args.host} is not loopback: anyone who can reach this machine can send "
              "texts to the model", file=sys.stderr)
    api.serve(args.model, host=args.host, port=args.port, tracking_uri=args.tracking_uri,
              ready=lambda url: print(f"serving {args.model} on {url} (Ctrl-C stops)", file=sys.stderr))
    return 0


def cmd_predict(args) -> int:
    texts = list(args.texts) + (_read_texts(args.file, args.text_col) if args.file else [])
    if not texts:
        raise SweepLabError("no texts: give them as arguments or with --file")
    frame = api.load_model(args.model, tracking_uri=args.tracking_uri).predict(texts)
    frame.insert(2, "text", texts)
    if args.format == "json":
        print(frame.to_json(orient="records", force_ascii=False, indent=2))
    elif args.format == "csv":
        print(frame.to_csv(index=False), end="")
    else:
        for row in frame.itertuples(index=False):
            print(f"{row.label}\t{row.probability:.3f}\t{row.text}")
    return 0


def _read_texts(source: str, text_col: str) -> list[str]:
    """One text per non-blank line of a file or of standard input (-), or a column of a CSV/TSV/JSONL file."""
    if source == "-":
        import io

        # A caller that replaced stdin with a text stream (a notebook, a test) hands its text over as it is.
        stdin = getattr(sys.stdin, "buffer", None) or io.BytesIO(sys.stdin.read().encode("utf-8"))
        return [line for _, line in files.stream_lines(stdin, "standard input") if line.strip()]
    path = Path(source)
    if path.suffix.lower() in data.USER_FILE_SUFFIXES:
        return [str(t) for t in data.read_column(path, text_col)]
    return [line for _, line in files.lines(path, "file") if line.strip()]

