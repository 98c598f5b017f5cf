"""A :class:`~sweeplab.results.report.SweepReport` as one HTML file that opens anywhere, offline: its style and its
one small script (sorting a table by a click on its heading) are in the page, its figures are SVG images inside it,
and nothing is fetched from the network.

A large search stays readable: a dataset's table lists its best :data:`~sweeplab.results.report.SHOWN_TRIALS`
trials and folds the rest away, its curves show the best few, the other figures draw every trial.
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
import math

from sweeplab.results.report import SHOWN_CURVES, SHOWN_TRIALS, importances

STYLE = """
body { font: 14px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0 auto; max-width: 1180px;
       padding: 0 24px 48px; color: #1d1d1f; }
h1 { font-size: 26px; margin: 24px 0 4px; } h2 { font-size: 21px; margin-top: 40px; border-bottom: 1px solid #ddd; }
h3 { font-size: 16px; margin-top: 24px; }
.meta { color: #555; } nav a { margin-right: 14px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { padding: 3px 8px; border-bottom: 1px solid #eee; text-align: right; vertical-align: top; }
th { background: #f4f4f6; cursor: pointer; position: sticky; top: 0; }
td.text, th.text { text-align: left; } tr.winner td { background: #fff6d6; font-weight: 600; }
tr.tied td:first-child::after { content: " ="; color: #888; }
.advice { background: #eef6ff; border-left: 4px solid #2f6fdf; padding: 8px 14px; margin: 10px 0; }
.advice li { margin: 4px 0; } .note { color: #7a5b00; }
.figures img { max-width: 100%; margin: 6px 0; } pre { background: #f7f7f7; padding: 8px; font-size: 12px; }
.headline { font-size: 15px; } .headline b { font-size: 17px; }
details summary { cursor: pointer; color: #2f6fdf; margin: 6px 0; }
"""

SORTING = """
document.querySelectorAll("table.sortable th").forEach(function (head) {
  head.addEventListener("click", function () {
    var table = head.closest("table"), body = table.tBodies[0], column = head.cellIndex;
    var down = head.dataset.order !== "desc";
    table.querySelectorAll("th").forEach(function (h) { delete h.dataset.order; });
    head.dataset.order = down ? "desc" : "asc";
    var rows = Array.from(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[column].dataset.sort, y = b.cells[column].dataset.sort;
      var nx = parseFloat(x), ny = parseFloat(y);
      var order = (isNaN(nx) || isNaN(ny)) ? String(x).localeCompare(String(y)) : nx - ny;
      return down ? -order : order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  });
});
"""


def render(report) -> str:
    """The whole page."""
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>sweeplab report: "
             f"{_e(report.sweep)}</title><style>{STYLE}</style></head><body>",
             f"<h1>Sweep <code>{_e(report.sweep)}</code></h1>",
             f"<p class='meta'>{len(report.datasets)} dataset(s) in {_e(report.tracking_uri)} (MLflow experiment "
             f"{_e(report.experiment_id)}); report written {_e(report.written)}"
             + (f"; code {_e(report.revision)}" if report.revision else "") + "</p>",
             "<nav>" + "".join(f"<a href='#dataset-{_e(v.source)}'>{_e(v.source)}</a>" for v in report.datasets)
             + "<a href='#across'>across datasets</a></nav>",
             _summary(report)]
    for view in report.datasets:
        parts.append(_dataset(view))
    parts.append(_across(report))
    parts.append(f"<script>{SORTING}</script></body></html>")
    return "\n".join(parts)


def _summary(report) -> str:
    rows = []
    for view in report.datasets:
        winner = view.winner()
        if winner is None:
            rows.append(f"<tr><td class='text'>{_e(view.source)}</td><td class='text' colspan='6'>no complete trial"
                        "</td></tr>")
            continue
        low, high = view.interval(winner)
        rows.append(
            f"<tr><td class='text'><a href='#dataset-{_e(view.source)}'>{_e(view.source)}</a></td>"
            f"<td class='text'>trial {winner.number}: {_e(view.shown(winner))}</td>"
            f"<td>{winner.mean:.3f} [{low:.3f}, {high:.3f}]</td><td>{len(view.tied())} of {len(view.complete())}</td>"
            f"<td>{_n(view.test)}</td><td>{_n(view.baseline_test)}</td><td>{_lift(view)}</td>"
            f"<td>{len(view.advice)}</td></tr>")
    return ("<h2 id='summary'>Summary</h2><table><thead><tr><th class='text'>dataset</th><th class='text'>winner"
            "</th><th>cv [95 % interval]</th><th>tied with the best</th><th>test</th><th>bag-of-words test</th>"
            "<th>lift</th><th>advice</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
            + "".join(f"<p class='note'>{_e(note)}</p>" for note in report.notes))


def _dataset(view) -> str:
    from sweeplab.tracking import figures

    winner, complete = view.winner(), view.complete()
    parts = [f"<h2 id='dataset-{_e(view.source)}'>{_e(view.source)}</h2>"]
    if winner is not None:
        low, high = view.interval(winner)
        parts.append(
            f"<p class='headline'>winner: <b>trial {winner.number}</b> ({_e(view.shown(winner))}), cv {view.metric} "
            f"<b>{winner.mean:.3f}</b> [{low:.3f}, {high:.3f}]; test <b>{_n(view.test)}</b> against the "
            f"bag-of-words baseline's {_n(view.baseline_test)} (lift {_lift(view)}); {len(view.tied())} of "
            f"{len(complete)} complete trials tied with the best ({_e(view.test_name())}; select {_e(view.select)})"
            f"; {len(view.pruned())} pruned, {sum(t.state == 'FAIL' for t in view.trials)} failed; engine "
            f"{_e(view.engine)}</p>")
    if view.advice:
        parts.append("<div class='advice'><b>Advice from the evidence</b><ul>"
                     + "".join(f"<li>{_e(a.text)}</li>" for a in view.advice) + "</ul></div>")
    parts.append(_trials_table(view))
    if view.pruned():
        parts.append(_pruned_table(view))
    parts.append("<div class='figures'>")
    shown = [t for t in sorted(complete, key=lambda t: -t.mean)[:SHOWN_CURVES] if t.curves]
    which = f"the best {len(shown)} trials"
    if winner is not None and winner not in shown and winner.curves:
        shown.append(winner)
        which += " and the winner"
    if shown:
        parts.append(f"<h3>Validation curves per epoch ({which})</h3>")
        parts.append(_image(figures.fold_curves(shown, view.metric, winner.number if winner else None)))
    else:
        parts.append("<p class='note'>no per-epoch curves in these runs</p>")
    parts.append("<h3>History</h3>" + _image(figures.search_history(list(view.trials), view.metric,
                                                                      view.baseline_cv)))
    found = importances(view)
    if found:
        parts.append(f"<h3>Parameter importances</h3><p class='meta'>from {len(complete)} complete trials"
                     + (": a few trials tell little, read them loosely" if len(complete) < 20 else "") + "</p>"
                     + _image(figures.importance_bars(found)))
    else:
        parts.append("<p class='note'>parameter importances need three complete trials that differ</p>")
    names = [name for name in view.searched if any(name in t.params for t in complete)]
    if names and len(complete) >= 2:
        parts.append("<h3>Parallel coordinates</h3>"
                     + _image(figures.parallel_coordinates(complete, names, view.searched_space(), view.metric)))
    parts.append("</div>")
    parts.append("<h3>The winner on the held-out test split</h3>")
    if view.test_report:
        parts.append(f"<pre>{_e(view.test_report)}</pre>")
    if view.confusion:
        parts.append(_image(figures.confusion_counts(view.classes, view.confusion,
                                                     f"test {view.metric} {_n(view.test)}")))
    if view.refit_history:
        parts.append(_image(figures.refit_curves(view.refit_history, "the refit on the whole training split "
                                                                     "(its own training data)")))
    return "\n".join(parts)


def _trials_table(view) -> str:
    complete = sorted(view.complete(), key=lambda t: -t.mean)
    others = sorted((t for t in view.trials if not t.ok), key=lambda t: t.number)
    ordered, winner = complete + others, view.winner()
    heads = ["trial", *view.searched, f"cv {view.metric}", "95 % interval", "std", "folds", "tied", "state",
             "trainable params", "fit s", "note"]
    head = "<thead><tr>" + "".join(f"<th class='{'text' if h in view.searched or h in ('state', 'note') else ''}'>"
                                   f"{_e(h)}</th>" for h in heads) + "</tr></thead>"
    rows = [_trial_row(view, t, t is winner) for t in ordered]
    table = ("<table class='sortable'>" + head + "<tbody>{}</tbody></table>")
    caption = (f"<h3>Trials ({len(view.trials)}; {len(complete)} complete, best first; the winner highlighted, "
               "= tied with the best; click a heading to sort)</h3>")
    if len(rows) <= SHOWN_TRIALS:
        return caption + table.format("".join(rows))
    return (caption + table.format("".join(rows[:SHOWN_TRIALS]))
            + f"<details><summary>the other {len(rows) - SHOWN_TRIALS:,} trials</summary>"
            + table.format("".join(rows[SHOWN_TRIALS:])) + "</details>")


def _trial_row(view, trial, is_winner: bool) -> str:
    low, high = view.interval(trial)
    cells = [(trial.number, str(trial.number), "")]
    cells += [(_sortable(trial.params.get(name)), _value(trial.params.get(name)), "text") for name in view.searched]
    cells += [(_f(trial.mean), _n(trial.mean), ""), (_f(low), "" if trial.ok is False else f"[{low:.3f}, {high:.3f}]",
                                                     ""),
              (_f(trial.std), _n(trial.std), ""), (len(trial.fold_scores), " ".join(f"{s:.3f}"
                                                                                   for s in trial.fold_scores), ""),
              (int(trial.tied), "yes" if trial.tied else "", ""), (trial.state, trial.state.lower(), "text"),
              (_f(trial.trainable_params), "" if trial.trainable_params != trial.trainable_params
               else f"{trial.trainable_params:,.0f}", ""),
              (_f(trial.fit_time), _n(trial.fit_time, ".1f"), ""),
              (trial.note or "", ("reused " if trial.reused_from else "") + (trial.note or "")[:120], "text")]
    classes = " ".join(c for c, on in (("winner", is_winner), ("tied", trial.tied)) if on)
    return (f"<tr class='{classes}'>" + "".join(f"<td class='{kind}' data-sort='{_e(str(key))}'>{_e(shown)}</td>"
                                                for key, shown, kind in cells) + "</tr>")


def _pruned_table(view) -> str:
    pruned = view.pruned()
    rows = "".join(f"<tr><td>{t.number}</td><td class='text'>{_e(view.shown(t))}</td><td>{len(t.fold_scores)}</td>"
                   f"<td class='text'>{_e(t.note or '')}</td></tr>" for t in pruned[:SHOWN_TRIALS])
    more = f"<p class='meta'>and {len(pruned) - SHOWN_TRIALS:,} more</p>" if len(pruned) > SHOWN_TRIALS else ""
    return (f"<h3>Pruned trials ({len(pruned)})</h3><table><thead><tr><th>trial</th><th class='text'>parameters</th>"
            "<th>folds finished</th><th class='text'>where it stopped</th></tr></thead><tbody>" + rows
            + "</tbody></table>" + more)


def _across(report) -> str:
    from sweeplab.tracking import figures

    parts = ["<h2 id='across'>Across datasets</h2>"]
    if report.pivot is not None and len(report.pivot):
        sources = [c[:-len(".cv_mean")] for c in report.pivot.columns if c.endswith(".cv_mean")]
        head = "".join(f"<th>{_e(s)}</th>" for s in sources)
        rows = []
        for row in report.pivot.to_dict("records"):
            cells = "".join(f"<td data-sort='{_f(row[f'{s}.cv_mean'])}'>"
                            + ("" if row[f"{s}.cv_mean"] != row[f"{s}.cv_mean"]
                               else f"{row[f'{s}.cv_mean']:.3f} #{int(row[f'{s}.rank'])}") + "</td>" for s in sources)
            rows.append(f"<tr><td class='text'>{_e(row['configuration'])}</td>{cells}<td>{row['mean_cv']:.3f}</td>"
                        f"<td>{row['avg_rank']:.1f}</td></tr>")
        parts.append("<h3>Every configuration on every dataset (cv mean and rank within the dataset)</h3>"
                     "<table class='sortable'><thead><tr><th class='text'>configuration</th>" + head
                     + "<th>mean</th><th>avg rank</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")
    found = report.comparison
    if found is not None:
        friedman = found.friedman
        parts.append(f"<h3>Ranks across {len(found.datasets)} datasets</h3>"
                     f"<p>Friedman: chi2 {friedman.get('chi2', math.nan):.2f}, p {friedman.get('p', math.nan):.3f}; "
                     f"Nemenyi critical difference {found.cd:.2f} ranks at alpha {found.alpha:g}; "
                     f"{len(found.different())} pair(s) further apart than it</p>"
                     + (f"<p class='note'>{_e(found.weak)}</p>" if found.weak else ""))
        with contextlib.suppress(Exception):  # a diagram scikit-posthocs cannot draw (too few configurations)
            parts.append(_image(figures.critical_difference(found.ranks, found.pairwise, found.cd,
                                                            f"{report.sweep}: average ranks")))
    if report.transfer is not None:
        parts.append("<h3>Transfer: each dataset's winner tested on every dataset</h3>"
                     + _image(figures.transfer_heatmap(report.transfer, report.datasets[0].metric)))
    if len(parts) == 1:
        parts.append("<p class='note'>" + _e("; ".join(report.notes) or "nothing to compare") + "</p>")
    return "\n".join(parts)


def _image(figure) -> str:
    """A figure as an SVG image inside the page (its own document: no id of one clashes with another's)."""
    import matplotlib

    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # text as text: smaller, and the reader's own font
        figure.savefig(buffer, format="svg")
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"<img alt='figure' src='data:image/svg+xml;base64,{encoded}'>"


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _n(value, spec: str = ".3f") -> str:
    return "" if value is None or value != value else format(value, spec)


def _f(value) -> str:
    return "" if value is None or value != value else repr(float(value))


def _lift(view) -> str:
    if view.test is None or view.baseline_test is None:
        return ""
    return f"{view.test - view.baseline_test:+.3f}"


def _value(value) -> str:
    if value is None:
        return ""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _sortable(value):
    return "" if value is None else value
