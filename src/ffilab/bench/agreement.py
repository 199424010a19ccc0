"""``python -m ffilab.bench.agreement``: do two back-to-back overhead runs of this build agree?

Runs the interleaved overhead suite (:func:`ffilab.bench.overhead_suite`, the one ``ffilab bench``
uses) twice, A then B, writes both as results files (``ffilab-agreement-A.json``,
``-B.json``; readable by ``ffilab compare`` and ``ffilab report``), compares them with
``ffilab compare``'s rules and prints how many rows came out "no significant change" and the worst
row: the largest difference between the two runs' medians, in seconds and as multiples of each
run's ``abs`` floor.  The same check by hand::

    ffilab bench --no-throughput --no-sweep --no-startup --no-nearest --no-tokenize -o A.json
    ffilab bench --no-throughput --no-sweep --no-startup --no-nearest --no-tokenize -o B.json
    ffilab compare A.json B.json

``--extra NAME=MODULE`` times an importable module's kernels beside the routes in both runs, and
``--extra-b NAME=MODULE`` replaces it in run B only: the way to check that a real change is seen.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["agreement", "main"]


def _results(rows: list[dict[str, Any]], info: dict[str, Any], config: Any) -> dict[str, Any]:
    from ffilab import bench

    return {"format": bench.FORMAT, "metadata": bench.metadata(config), "routes": [], "overhead": rows,
            "overhead_method": info, "throughput": [], "scaling": [], "crossovers": [], "build": [], "first_call": []}


def agreement(routes: list[str] | None = None, *, processes: int = 3, rounds: int = 40, timer: str = "cpu",
              extra: dict[str, str] | None = None, extra_b: dict[str, str] | None = None,
              out_dir: Path = Path(".")) -> dict[str, Any]:
    """Run the overhead suite twice and compare; return the summary (also written beside A and B).

    Parameters
    ----------
    routes : list of str, optional
        Routes to time (default: every available route).
    processes, rounds : int
        Worker processes per run and rounds per worker (``ffilab bench``'s quick default: 3, 40).
    timer : str
        ``cpu`` or ``wall``.
    extra, extra_b : dict, optional
        Name -> module timed beside the routes; ``extra_b`` replaces ``extra`` in run B.
    out_dir : Path
        Where ``ffilab-agreement-A.json`` and ``-B.json`` are written.

    Returns
    -------
    dict
        ``compared``, ``not_significant`` (count and ``share``), ``significant`` (the rows called
        changed: what, change, verdict), ``worst`` (over every row) and ``worst_compiled`` (over
        the compiled routes, the JIT route and the floors): ``what``, ``change_s`` (B median over
        A median, minus 1), ``change_ratio`` (the same for the multiples of abs), ``harness``
        (each run's loop cost per call) and ``abs_s`` (each run's abs median), ``paths``.
    """
    from ffilab import _registry, bench
    from ffilab.compare import _compare_data

    infos = _registry.routes()
    names = routes or [i.name for i in infos if i.available]
    config = bench.Config(routes=names, throughput=False, sweep=False, startup=False, nearest=False, tokenize=False,
                          timer=timer, overhead_processes=processes, overhead_rounds=rounds)
    problems = bench.verify_workloads(names, config, lambda _: None)
    skip = [f"{name}/{key.split('/', 1)[1]}" for name, found in problems.items() for key in found if key.startswith("overhead/")]
    runs = []
    for which, modules in (("A", extra), ("B", extra_b if extra_b is not None else extra)):
        rows, info = bench.overhead_suite(names, processes=processes, rounds=rounds, timer=timer, skip=skip, extra=modules)
        if info["failure"]:
            raise RuntimeError(f"run {which}: {info['failure']}")
        data = _results(rows, info, config)
        path = Path(out_dir) / f"ffilab-agreement-{which}.json"
        path.parent.mkdir(parents=True, exist_ok=True)  # --out-dir may name a folder not made yet
        path.write_text(json.dumps(data), encoding="utf-8")
        runs.append((path, data))
    (path_a, data_a), (path_b, data_b) = runs
    compared = [r for r in _compare_data(data_a, data_b) if r.comparison is not None]
    kinds = {spec.name: spec for spec in _registry.ROUTES}
    by_key_a = {(r["route"], r["call"]): r for r in data_a["overhead"]}
    by_key_b = {(r["route"], r["call"]): r for r in data_b["overhead"]}

    def change(row: Any) -> dict[str, Any]:
        key = (row.key[0], row.key[1])
        ra, rb = by_key_a[key], by_key_b[key]
        return {"what": row.what, "route": key[0], "call": key[1],
                "median_a_s": ra["median_s"], "median_b_s": rb["median_s"],
                "change_s": rb["median_s"] / ra["median_s"] - 1 if ra["median_s"] else None,
                "ratio_a": ra["ratio_to_abs"], "ratio_b": rb["ratio_to_abs"],
                "change_ratio": rb["ratio_to_abs"] / ra["ratio_to_abs"] - 1 if ra["ratio_to_abs"] else None,
                "verdict": row.comparison.verdict}

    changes = [change(r) for r in compared]
    compiled = [c for c in changes if c["route"] == "(floor)"
                or (c["route"] in kinds and (kinds[c["route"]].compiled or kinds[c["route"]].kind == "JIT"))]

    def worst(rows: list[dict[str, Any]], field: str) -> dict[str, Any] | None:
        rows = [r for r in rows if r[field] is not None and r["call"] != "empty loop"]
        return max(rows, key=lambda r: abs(r[field]), default=None)

    not_significant = sum(not r.significant for r in compared)
    abs_row = ("(floor)", "builtin abs")
    return {
        "compared": len(compared),
        "not_significant": not_significant,
        "share": not_significant / len(compared) if compared else 1.0,
        "significant": [c for c, r in zip(changes, compared) if r.significant],
        "worst": worst(changes, "change_s"),
        "worst_compiled": worst(compiled, "change_s"),
        "worst_compiled_ratio": worst(compiled, "change_ratio"),
        "harness_s": [data_a["overhead_method"]["harness_s"], data_b["overhead_method"]["harness_s"]],
        "abs_s": [by_key_a[abs_row]["median_s"], by_key_b[abs_row]["median_s"]],
        "paths": [str(path_a), str(path_b)],
        "processes": processes, "rounds": rounds,
    }


def _line(label: str, row: dict[str, Any] | None) -> str:
    if row is None:
        return f"{label}: -"
    return (f"{label}: {row['what']}: {row['median_a_s'] * 1e9:.1f} ns -> {row['median_b_s'] * 1e9:.1f} ns "
            f"({row['change_s']:+.1%}); x abs {row['ratio_a']:.3f} -> {row['ratio_b']:.3f} ({row['change_ratio']:+.1%}); "
            f"compare: {row['verdict']}")


def main(argv: list[str] | None = None) -> int:
    """The command line; returns 0 (the verdict is printed, not an exit status)."""
    parser = argparse.ArgumentParser(prog="python -m ffilab.bench.agreement", description=__doc__.splitlines()[0])
    parser.add_argument("--route", "-r", action="append", default=None, help="route to time (repeatable; default: all)")
    parser.add_argument("--processes", type=int, default=3, help="worker processes per run (default 3)")
    parser.add_argument("--rounds", type=int, default=40, help="rounds per worker (default 40)")
    parser.add_argument("--timer", choices=("cpu", "wall"), default="cpu")
    parser.add_argument("--extra", action="append", default=[], metavar="NAME=MODULE")
    parser.add_argument("--extra-b", action="append", default=None, metavar="NAME=MODULE")
    parser.add_argument("--out-dir", type=Path, default=Path("."))
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    if args.processes < 1 or args.rounds < 2:
        parser.error("--processes must be at least 1 and --rounds at least 2")
    extra = dict(item.split("=", 1) for item in args.extra)
    extra_b = dict(item.split("=", 1) for item in args.extra_b) if args.extra_b is not None else None
    try:
        result = agreement(args.route, processes=args.processes, rounds=args.rounds, timer=args.timer, extra=extra,
                           extra_b=extra_b, out_dir=args.out_dir)
    except (KeyError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print(f"two overhead runs ({result['processes']} processes x {result['rounds']} rounds each): "
          f"{result['not_significant']} of {result['compared']} rows no significant change ({result['share']:.0%})")
    print(_line("worst row", result["worst"]))
    print(_line("worst compiled route or floor (seconds)", result["worst_compiled"]))
    print(_line("worst compiled route or floor (x abs)", result["worst_compiled_ratio"]))
    h = result["harness_s"]
    a = result["abs_s"]
    print(f"harness: {h[0] * 1e9:.2f} / {h[1] * 1e9:.2f} ns per call = {h[0] / a[0]:.1%} / {h[1] / a[1]:.1%} of abs "
          f"({a[0] * 1e9:.1f} / {a[1] * 1e9:.1f} ns)")
    for c in result["significant"]:
        print(f"significant: {c['what']}: {c['verdict']}")
    print(f"results: {' and '.join(result['paths'])} (ffilab compare reads them)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
