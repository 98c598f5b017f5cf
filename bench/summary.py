"""The README's benchmark table, from bench/results/*.json: each measure against its target (issue 6).

Writes bench/results/summary.md and replaces the README's part between its two bench markers.

    python bench/summary.py
"""

from __future__ import annotations

import json
import sys

from common import RESULTS, ROOT
from time_to_accuracy import TARGET_SPEEDUP

START, END = "<!-- bench:start -->", "<!-- bench:end -->"


_MEASURED_WITH = ["?"]  # the sweeplab version of the result loaded last: the rows made from it carry it


def load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    result = json.loads(path.read_text()) if path.exists() else None
    if result:  # results from before benches recorded it were made with 0.1.0
        _MEASURED_WITH[0] = result["machine"].get("sweeplab", "0.1.0")
    return result


class _Rows(list):
    """Rows of (measure, target, measured, met[, share of peak]): the share, where the bench counted its
    arithmetic, goes in its own column before "met"."""

    def append(self, row: tuple) -> None:
        measure, target, measured, met, *peak = row
        super().append((measure, target, measured, peak[0] if peak else "—", met, _MEASURED_WITH[0]))


def of_peak(*shares: float) -> str:
    """Shares of the machine's peak, as a bench measured them (several: one per side, in the row's order)."""
    return " → ".join(f"{share:.1f} %" if share >= 0.1 else f"{share:.2f} %" for share in shares)


def _mean(values: list) -> float:
    return sum(values) / len(values)


def yes(met: bool | None) -> str:
    return "—" if met is None else ("**yes**" if met else "**no**")


def rows() -> list[tuple[str, str, str, str, str]]:
    found = _Rows()
    tta = load("time_to_accuracy")
    if tta:
        for source, r in tta["sources"].items():
            ours, ref = r["sweeplab_time_to_reference_cv_median_s"], r["reference_time_to_best_median_s"]
            tests = r["test_accuracy"]
            best = (r["reference"][-1]["best_cv"], r["sweeplab"][-1]["best_cv"])
            pairs = [a["time_to_best_s"] / b["time_to_reference_cv_s"] for a, b in zip(r["reference"], r["sweeplab"])
                     if b["time_to_reference_cv_s"]]
            spread = f"; pairs {min(pairs):.1f}–{max(pairs):.1f}×" if len(pairs) > 1 else ""
            speed = (f"{r['speedup']:.1f}× ({ref:.0f} s → {ours:.0f} s{spread}" if ours is not None else
                     f"not reached: best CV {best[1]:.3f} < {best[0]:.3f} ({ref:.0f} s → never")
            found.append((
                f"time to the tutorial's best CV, {source}",
                f"≥ {TARGET_SPEEDUP:.0f}× less, test acc ≥ tutorial's",
                f"{speed}; whole search {r['reference_wall_median_s']:.0f} s "
                f"vs {r['sweeplab_wall_median_s']:.0f} s); test {tests['sweeplab']:.3f} vs {tests['reference']:.3f}",
                yes((r["speedup"] or 0) >= TARGET_SPEEDUP and tests["sweeplab"] >= tests["reference"])))
    grid = load("cnn_grid")
    if grid:
        for source, r in grid["sources"].items():
            same = "the same fold scores" if r["largest_fold_score_difference"] == 0 else (
                f"fold scores within {r['largest_fold_score_difference']:.3f}")
            found.append((
                f"`make sweep SPACE=cnn_grid` vs the tutorial's search, {source}", "≥ 2× faster, same candidates",
                f"{r['speedup']:.2f}× ({r['tutorial_wall_median_s']:.0f} s → {r['sweeplab_wall_median_s']:.0f} s; "
                f"pairs {min(r['speedup_per_pair']):.2f}–{max(r['speedup_per_pair']):.2f}×; CPU time "
                f"{r['cpu_speedup']:.2f}×); same candidates: {'yes' if r['same_candidates'] else 'no'}, {same}; "
                f"best CV {r['sweeplab'][-1]['best_cv']:.3f} vs {r['tutorial'][-1]['best_cv']:.3f}",
                yes(r["speedup"] >= grid["target_speedup"] and r["same_candidates"])))
    levers = load("levers")
    if levers:
        for configuration, sides in levers["configurations"].items():
            full, cut, fused = (sides[name] for name in ("full, 1 step/call", "cut, 1 step/call",
                                                         "cut, 1 epoch/call"))
            found.append((
                f"a cnn_grid trial ({configuration.replace('x', ' filters × kernel ')}, {levers['source']}): padding "
                "cut per batch, then an epoch per call", "report",
                f"{full['median_s']:.1f} s → {cut['median_s']:.1f} s ({cut['speedup']:.2f}×) → {fused['median_s']:.1f} s "
                f"({fused['speedup']:.2f}×); fold scores {_mean(full['fold_scores']):.3f} → "
                f"{_mean(cut['fold_scores']):.3f} → {_mean(fused['fold_scores']):.3f}"
                + (f"; {full['gflop']:.0f} → {cut['gflop']:.0f} GFLOP" if "gflop" in full else ""), "—",
                of_peak(*(side["percent_of_peak"] for side in (full, cut, fused))) if "gflop" in full else "—"))
    overhead = load("overhead")
    if overhead:
        found.append((
            "a trial (MLflow included) vs a bare Keras loop, same folds and epochs", "≤ +5 %",
            f"{overhead['overhead_pct']:+.0f} % ({overhead['bare_keras_median_s']:.2f} s → "
            f"{overhead['sweeplab_trial_median_s']:.2f} s); bookkeeping alone {overhead['bookkeeping_s']:.2f} s "
            f"({overhead['bookkeeping_pct']:+.1f} %)", yes(overhead["overhead_pct"] <= 5)))
    scaling = load("scaling")
    if scaling:
        found.append((
            "time per trial, trial 10 → 100", "≤ +10 %",
            f"{scaling['trial_s_median_at_10']:.2f} s → {scaling['trial_s_median_at_100']:.2f} s "
            f"({scaling['trial_time_growth_pct']:+.1f} %)", yes(scaling["trial_time_growth_pct"] <= 10)))
        found.append((
            "process RSS, trial 10 → 100", "≤ +10 %",
            f"{scaling['rss_mb_at_10']:.0f} MB → {scaling['rss_mb_at_100']:.0f} MB ({scaling['rss_growth_pct']:+.1f} %)",
            yes(scaling["rss_growth_pct"] <= 10)))
    board = load("leaderboard_scale")
    if board:
        found.append((f"`sweeplab leaderboard`, {board['trial_runs']:,} trial runs", "< 1 s",
                      f"{board['command_median_s']:.2f} s (in-process read {board['in_process_median_s']:.2f} s)",
                      yes(board["command_median_s"] < 1)))
    workers = load("workers")
    if workers:
        for job, what in (("cnn_grid", "`make sweep SPACE=cnn_grid` (three sources, fused)"),
                          ("grid27", "27-point grid on yelp (fused by 5)")):
            r = workers.get(job)
            if not r:
                continue
            spread = r["spread"]
            found.append((
                f"one queue for every engine: {what}, `--workers 2` vs 1", "faster with 2, same candidates",
                f"wall {r['wall_ratio_1_vs_2']:.2f}× ({r['wall_s']['workers_1']:.0f} s → {r['wall_s']['workers_2']:.0f} s;"
                f" runs {spread['workers_1']['wall_s'][0]:.0f}–{spread['workers_1']['wall_s'][1]:.0f} and "
                f"{spread['workers_2']['wall_s'][0]:.0f}–{spread['workers_2']['wall_s'][1]:.0f} s); trials per hour "
                f"{r['trials_per_hour']['workers_1']:.0f} → {r['trials_per_hour']['workers_2']:.0f} "
                f"({r['ratio_2_vs_1']:.2f}×); peak RSS of the largest process "
                f"{spread['workers_1']['peak_rss_mb'][1]:.0f} / {spread['workers_2']['peak_rss_mb'][1]:.0f} MB; "
                f"same candidates: {'yes' if r['same_candidates'] else 'no'}",
                yes(r["wall_ratio_1_vs_2"] > 1 and r["same_candidates"])))
    parallel = load("parallel")
    if parallel:
        if "best" in parallel:
            rates, ratios = parallel["trials_per_hour"], parallel["ratio_to_1_worker"]
            fuse = parallel["fuse"]  # one setting before the bench took several
            fusions = " or ".join(f"`fuse: {n}`" for n in (fuse if isinstance(fuse, list) else [fuse]))
            found.append((
                f"trials per hour: 1 or 2 workers, alone or {fusions}, 1 worker's TensorFlow threads "
                "(12 small cnn trials)",
                "1 worker (fused) ≥ `--workers 2`",
                "; ".join(f"{name.replace('_', ' ')} {rates[name]:.0f} ({ratios[name]:.2f}×, runs "
                          f"{parallel['spread'][name][0]:.0f}–{parallel['spread'][name][1]:.0f})" for name in rates)
                + f"; best: {parallel['best'].replace('_', ' ')}",
                yes(max(r for n, r in rates.items() if n.startswith("workers_1")) >= rates["workers_2"])))
        else:
            found.append(("`--workers 2` vs 1, trials per hour", "report",
                          f"{parallel['ratio_2_vs_1']:.2f}× ({parallel['trials_per_hour_1_worker']:.0f} → "
                          f"{parallel['trials_per_hour_2_workers']:.0f})", "—"))
    fused = load("fused")
    if fused:
        for space, r in fused["spaces"].items():
            agree = ("the same trials' fold scores within "
                     f"{r['largest_fold_score_difference']:.3f}" if r["largest_fold_score_difference"] is not None
                     else "other trials (Optuna proposes a batch before it hears of any)")
            found.append((
                f"fused trials (`fuse: {r['fuse']}`) vs alone, `{space}` ({r['engine']}, {r['trials']} trials, "
                f"{fused['source']}), trials per hour", "report",
                f"{r['ratio']:.2f}× ({r['trials_per_hour_alone']:.0f} → {r['trials_per_hour_fused']:.0f}; pairs "
                f"{min(r['ratio_per_pair']):.2f}–{max(r['ratio_per_pair']):.2f}×); {agree}; best CV "
                f"{r['best_cv']['alone']:.3f} vs {r['best_cv']['fused']:.3f}", "—",
                of_peak(r["percent_of_peak"]["alone"], r["percent_of_peak"]["fused"]) if "percent_of_peak" in r
                else "—"))
    large = load("large_data")
    if large and "sides" in large:
        default = large["sides"]["default"]
        found.append((
            f"one `large_cnn` trial on imdb_50k ({large['rows']:,} rows), its own process", "≤ 30 s, ≤ 1 GB",
            f"{default['trial_s']:.0f} s (runs {default['trial_s_spread'][0]:.0f}–{default['trial_s_spread'][1]:.0f}"
            f" s), peak RSS {default['peak_rss_mb'] / 1000:.2f} GB; whole command {large['command_wall_s']:.0f} s, "
            f"{large['command_peak_rss_mb'] / 1000:.2f} GB; test {large['test_accuracy']:.3f} "
            f"(baseline {large['baseline_test_accuracy']:.3f})", yes(large["meets_target"]),
            of_peak(default["percent_of_peak"])))
        found.append((
            "the same trial by rows (" + " / ".join(f"{int(rows) / 1000:g}k" for rows in large["scaling"]) + ")",
            "memory bounded",
            " / ".join(f"{r['trial_s']:.0f} s" for r in large["scaling"].values()) + "; peak RSS "
            + " / ".join(f"{r['peak_rss_mb'] / 1000:.2f}" for r in large["scaling"].values()) + " GB"
            + (f", {default['imports_rss_mb'] / 1000:.2f} GB of it before any data (TensorFlow and Keras loaded)"
               if "imports_rss_mb" in default else ""), "—"))
        others = {name: side for name, side in large["sides"].items() if name != "default"}
        if others:
            found.append((
                "that trial with " + " / ".join(name.replace("_", " ") for name in others), "choose by numbers",
                "; ".join(f"{name.replace('_', ' ')}: {side['trial_s']:.0f} s "
                          f"({default['trial_s'] / side['trial_s']:.2f}× the default's speed), "
                          f"{side['peak_rss_mb'] / 1000:.2f} GB, cv {side['cv_accuracy']:.3f}"
                          for name, side in others.items()) + f"; default cv {default['cv_accuracy']:.3f}", "—",
                of_peak(*(side["percent_of_peak"] for side in others.values()))))
    elif large:
        found.append((f"one trial on imdb_50k ({large['rows']:,} rows)", "report",
                      f"trial {large['trial_s']:.0f} s, command {large['command_wall_s']:.0f} s, peak RSS "
                      f"{large['peak_rss_mb'] / 1000:.2f} GB; test {large['test_accuracy']:.3f} "
                      f"(baseline {large['baseline_test_accuracy']:.3f})", "—"))
    backends = load("backends")
    if backends:
        found.append(("JAX backend vs TensorFlow, same trials", "adopt if faster",
                      f"{backends['jax_speedup']:.2f}× ({backends['tensorflow_trials_median_s']:.1f} s → "
                      f"{backends['jax_trials_median_s']:.1f} s; import {backends['tensorflow_import_median_s']:.1f} s vs "
                      f"{backends['jax_import_median_s']:.1f} s)", "—"))
    bombs = load("bombs")
    if bombs:
        cases = bombs["cases"]
        worst_s = max(c["wall_s_median"] for c in cases.values())
        worst_mb = max(c["peak_mb_median"] for c in cases.values())
        stuck = [name for name, c in cases.items() if c.get("before", {}).get("timed_out")]
        found.append((f"hostile inputs ({len(cases)} bombs: alias bombs, /dev/zero, a FIFO, a 256 MB line, …), "
                      "whole command", "< 5 s, < 300 MB, one line, exit 2",
                      f"at most {worst_s:.1f} s and {worst_mb:.0f} MB"
                      + (f"; before the bounds {len(stuck)} ran past 30 s" if stuck else ""),
                      yes(all(c["met"] and c["one_line"] for c in cases.values()))))
    peaks = {name: r["peak_gflops"] for name, r in ((n, load(n)) for n in ("levers", "fused", "large_data"))
             if r and "peak_gflops" in r}
    if peaks:
        bfloat16 = (large or {}).get("peak_gflops_bfloat16")
        found.append(("float32 matmul peak, the reference of \"of peak\" (measured in each bench's run)", "report",
                      ", ".join(f"{gflops:.0f} GFLOP/s ({name}.py)" for name, gflops in peaks.items())
                      + (f"; bfloat16 through oneDNN {bfloat16:.0f} GFLOP/s (large_data.py), the reference of its "
                         "bfloat16 sides" if bfloat16 else ""), "—"))
    return found


def main() -> int:
    machine = next((r["machine"] for r in map(load, ("overhead", "scaling", "time_to_accuracy")) if r), {})
    lines = [f"`make bench` on {machine.get('cores', '?')} CPU cores, no GPU (tensorflow-cpu "
             f"{machine.get('tensorflow-cpu', '?')}, keras {machine.get('keras', '?')}); medians of alternating "
             "repeats; every figure is in `bench/results/*.json` with the command that made it, and the sweeplab version "
             "it was measured with (a row from an older version awaits re-measuring). \"Of peak\": the arithmetic the "
             "bench counted (sweeplab.modeling.flops) per second, as a share of the float32 matmul rate a "
             "micro-bench measured in the same run (`peak_flops` in bench/common.py; a bfloat16 side's, of the "
             "bfloat16 rate).", "",
             "| measure | target | measured | of peak | met | sweeplab |", "|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows()]
    table = "\n".join(lines) + "\n"
    (RESULTS / "summary.md").write_text(table)
    readme = ROOT / "README.md"
    text = readme.read_text()
    if START in text and END in text:
        head, rest = text.split(START, 1)
        readme.write_text(f"{head}{START}\n{table}{END}{rest.split(END, 1)[1]}")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
