"""Assemble the report from a results file and write report.md, report.html and the PNGs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ffilab.report import lesson, plots, tables, units
from ffilab.report.document import Block, Bullets, Heading, Image, Paragraph, Table, render_html, render_markdown
from ffilab.report.results import Results, load_results

__all__ = ["build_blocks", "write_report"]

TITLE = "ffilab benchmark report"


def _method(results: Results) -> str:
    meta = results.metadata
    text = f"Times are seconds per call ({meta.get('timer', 'cpu')} time), the median of each row's samples"
    if meta.get("processes") is not None and meta.get("values") is not None:
        procs, values, warmups = meta["processes"], meta["values"], meta.get("warmups", 0)
        text += (
            f" ({procs} worker process{'es' if procs != 1 else ''} × {values} value{'s' if values != 1 else ''}"
            f", {warmups} warm-up{'s' if warmups != 1 else ''} each)"
        )
    return text + (
        "; the interquartile range (IQR) says how much they moved; speedups are the python route's median "
        "divided by the row's, from the same run."
    )


def _not_measured_blocks(results: Results) -> list[Block]:
    lines = tables.not_measured(results)
    blocks: list[Block] = [Heading("Not measured")]
    if lines:
        blocks += [Paragraph("These rows have no time; they are in no plot and no speedup."), Bullets(lines)]
    else:
        blocks.append(Paragraph("Every route and every row was measured."))
    return blocks


def _mark_notes(rows: list[list[str]]) -> list[str]:
    # Explain a mark only where one is used.
    text = "".join(cell for row in rows for cell in row)
    return [note for mark, note in ((plots.CLOSED_FORM_MARK, tables.CLOSED_FORM_NOTE),
                                    (plots.UNSTABLE_MARK, tables.UNSTABLE_NOTE)) if mark in text]


def _fmt_rate(value: object) -> str:
    return f"{value:,.0f}" if isinstance(value, (int, float)) else "-"


def _goal_lines(goals: dict[str, Any]) -> list[str]:
    lines = []
    for g in goals.values():
        ratios = ", ".join(f"{x:.2f}x" for x in g.get("ratios") or [])
        if g.get("target") and not ratios:
            lines.append(f"not measured: {g['what']} (a baseline was unavailable)")
        elif g.get("target"):
            lines.append(f"{'met' if g.get('met') else 'NOT met'}: {g['what']} (measured {ratios}; target {g['target']}x)")
    return lines


def _feature_blocks(results: Results) -> list[Block]:
    """The nearest-places and tokenizer benchmarks, each against the field's tools, with their goals."""
    blocks: list[Block] = []
    near = results.nearest
    if near.get("rows"):
        blocks += [Heading("Nearest places (ffilab.nearest)"),
                   Paragraph("Median time per call; ratio against each goal's baseline, from the same run.")]
        rows = [[r["goal"], r["subject"], units.fmt_time(r["seconds"]) if r.get("seconds") else "-",
                 _fmt_rate(r.get("per_second")), "-" if r.get("ratio") is None else f"{r['ratio']:.2f}x",
                 r["status"] if r["status"] != "ok" else r.get("note", "")]
                for r in near["rows"]]
        blocks += [Table(["goal", "subject", "time", "per second", "ratio", "notes"], rows, numeric={2, 3, 4}),
                   Bullets(_goal_lines(near.get("goals", {})))]
    tok = results.tokenize
    if tok.get("rows"):
        sample = tok.get("sample", {})
        blocks += [Heading("Tokenizer (tokenize_batch)"),
                   Paragraph(f"Every route and the field's tools over the same {sample.get('records', 0):,} records of the "
                             "mixed corpus, thread CPU time per pass (median). \"same tokens\" is the share of records "
                             "tokenized exactly as the reference does (routes must reach 100% to be timed).")]
        rows = [[r["group"], r["subject"], units.fmt_time(r["seconds"]) if r.get("seconds") else "-",
                 _fmt_rate(r.get("per_second")), "-" if r.get("vs_python") is None else f"{r['vs_python']:.1f}x",
                 "-" if r.get("agreement") is None else f"{r['agreement']:.1%}",
                 r["status"] if r["status"] != "ok" else r.get("note", "")]
                for r in tok["rows"]]
        blocks += [Table(["group", "subject", "time", "records/s", "vs python", "same tokens", "notes"], rows,
                         numeric={2, 3, 4, 5}),
                   Bullets(_goal_lines(tok.get("goals", {})))]
        pipe = tok.get("pipeline") or {}
        if pipe.get("routes"):
            rows = [[r["route"], f"{r['tokenize_share']:.0%}", f"{r['tokenize_speedup']:.1f}x",
                     f"{r['predicted_speedup']:.2f}x", f"{r['measured_speedup']:.2f}x",
                     ", ".join(f"{s['workers']}: {s['records_per_s']:,.0f}/s" for s in r["scaling"])]
                    for r in pipe["routes"]]
            blocks += [Heading("Tokenizer pipeline: Amdahl's prediction against the measurement", 3),
                       Table(["route", "tokenize share", "tokenize speedup s", "predicted", "measured",
                              "records/s by workers"], rows, numeric={1, 2, 3, 4}),
                       Paragraph(f"p = {pipe['p']:.1%} of the reference's end-to-end time is tokenizing; however fast "
                                 f"the tokenizer, the pipeline cannot beat {pipe['ceiling']:.2f}x. The lesson's own "
                                 "arithmetic, 1 / (0.30 + 0.70 / 20), is 2.985x, not the 2.86x it prints.")]
    return blocks


def build_blocks(results: Results, out_dir: Path) -> tuple[list[Block], dict[str, Path]]:
    """Return the report as document blocks, and the PNGs written into ``out_dir`` for it."""
    images: dict[str, Path] = {}
    meta = results.metadata
    blocks: list[Block] = [
        Heading(TITLE, 1),
        Paragraph(
            f"Run of {meta.get('date', 'an unknown date')} on {meta.get('cpu') or 'an unknown CPU'} "
            f"({meta.get('cpu_count', '?')} cores), Python {meta.get('python', '?')}, "
            f"mode {meta.get('mode', '?')}. {_method(results)}"
        ),
    ]

    # The decision table: the lesson's Part 6, our routes, two measured rows.
    header, rows, notes = lesson.decision_table(results)
    blocks += [
        Heading("Which route? The lesson's decision table, with our numbers"),
        Paragraph(
            "The lesson's Part 6 comparison, restated for ffilab's routes. The qualitative rows are our "
            "own summary; the rows marked measured come from this run."
        ),
        Table(header, rows, notes=notes + _mark_notes(rows), html_class="fit"),  # one column per route: must fit 1280 px
    ]

    # Every number the lesson prints, checked.
    checks = lesson.check_claims(results)
    blocks += [
        Heading("Lesson says / measured here"),
        Paragraph(
            f"A measured value within {lesson.REPRODUCES_WITHIN:g}x of the lesson's, either way, reproduces it. "
            "Times are compared at the lesson's n; where this run used another n, an O(n) kernel's time is "
            "scaled linearly and marked \"scaled\", and any other kernel is \"not comparable\"."
        ),
        Table(
            ["Lesson part", "Claim", "Lesson says", "Measured here", "Verdict", "Note"],
            [[c.where, c.claim, c.lesson, c.measured, c.verdict, c.note] for c in checks],
        ),
    ]

    # Per-call overhead.
    blocks.append(Heading("Per-call overhead"))
    path = plots.plot_overhead(results, out_dir / "overhead.png")
    if path:
        images["overhead"] = path
        blocks.append(Image(path, "Per-call overhead per route and call kind, log scale",
                            "Median time per call (log scale); grey lines are the floors."))
    overhead = tables.overhead_table(results)
    floors = tables.floor_table(results)
    blocks += [b for b in (overhead, floors) if b] or [Paragraph("No overhead was measured.")]

    # Throughput.
    blocks.append(Heading("Throughput"))
    path = plots.plot_speedup(results, out_dir / "speedup.png")
    if path:
        images["speedup"] = path
        blocks.append(Image(path, "Speedup vs python per throughput kernel, log scale",
                            "Speedup vs the python route (log scale); hatched bars are closed forms, not loop speed."))
    throughput = tables.throughput_tables(results)
    if not throughput:
        blocks.append(Paragraph("No throughput was measured."))
    for title, table in throughput:
        blocks += [Heading(title, 3), table]

    # Scaling.
    blocks.append(Heading("Scaling and crossovers"))
    path = plots.plot_scaling(results, out_dir / "scaling.png")
    if path:
        images["scaling"] = path
        blocks.append(Image(path, "Time per element vs n, log-log, per kernel and route",
                            "Median time per element vs n (log-log); large markers: crossovers (a route faster from the "
                            "smallest n on is not marked; see the table)."))
    crossovers = tables.crossover_table(results)
    if crossovers:
        blocks.append(crossovers)
    if not path and not crossovers:
        blocks.append(Paragraph("This run has no size sweep."))

    # Build, size, import.
    blocks.append(Heading("Build time, binary size, import time"))
    path = plots.plot_build(results, out_dir / "build.png")
    if path:
        images["build"] = path
        blocks.append(Image(path, "Build time, binary size and import time per route",
                            "Panels without data in this run are left out."))
    build = tables.build_table(results)
    blocks.append(build if build else Paragraph("This run recorded no build data."))

    blocks += _feature_blocks(results)
    blocks += _not_measured_blocks(results)
    blocks += [Heading("Machine and method"), tables.metadata_table(results)]
    return blocks, images


def write_report(results_path: str | Path, out_dir: str | Path) -> dict[str, Path]:
    """Write the report of one ``ffilab bench`` results file.

    Parameters
    ----------
    results_path : str or Path
        A results JSON of format ``ffilab-bench/3`` or ``/2`` (see ``docs/results-format.md``).
    out_dir : str or Path
        Folder for ``report.md``, ``report.html`` and the PNG figures; created if missing.

    Returns
    -------
    dict of str to Path
        ``"markdown"`` and ``"html"``, plus one entry per figure written (``"overhead"``,
        ``"speedup"``, ``"scaling"``, ``"build"``; a figure without data is not written).

    Raises
    ------
    ValueError
        The file is not a results file of format ``ffilab-bench/3`` or ``/2``.
    """
    results = load_results(results_path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    blocks, images = build_blocks(results, out)
    md_path = out / "report.md"
    html_path = out / "report.html"
    md_path.write_text(render_markdown(blocks), encoding="utf-8")
    html_path.write_text(render_html(blocks, TITLE), encoding="utf-8")
    return {"markdown": md_path, "html": html_path, **images}
