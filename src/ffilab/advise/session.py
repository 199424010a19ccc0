"""The advise and try workflows: profile, record, compile, verify, time, estimate, predict, confirm.

Each step is another module's; this one puts them in order and collects one report (a plain
dict, the ``--json`` output; ``_cli.py`` renders it). Progress goes to a callback, so the CLI can
show it while the steps that take seconds run.
"""

from __future__ import annotations

import ast
import inspect

import math
import os
import pickle
import statistics
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ffilab.advise import compile as compile_routes
from ffilab.advise import estimate, profiling, timing
from ffilab.advise.profiling import FunctionStat, ProgramError
from ffilab.advise.target import Target, TargetError, load_function, load_script_function

__all__ = ["AdviseOptions", "TryOptions", "advise", "try_function"]

Call = tuple[tuple[Any, ...], dict[str, Any]]
Progress = Callable[[str], None]


@dataclass
class AdviseOptions:
    """What ``ffilab advise`` was asked: a program command or a profile file, and how far to go."""

    command: list[str] = field(default_factory=list)
    pstats: Path | None = None
    routes: tuple[str, ...] = compile_routes.TRIED_ROUTES
    top: int = 3
    record_limit: int = 1000
    results: Path | None = None
    confirm: bool = False
    confirm_runs: int = 3
    try_routes: bool = True
    stdout_to_stderr: bool = False


@dataclass
class TryOptions:
    """What ``ffilab try`` was asked: the function, its arguments (expressions or a recording command)."""

    function: str
    args: list[str] = field(default_factory=list)
    record: list[str] = field(default_factory=list)
    routes: tuple[str, ...] = compile_routes.TRIED_ROUTES
    record_limit: int = 1000
    confirm: bool = False
    confirm_runs: int = 3
    stdout_to_stderr: bool = False


def _nothing(_: str) -> None:
    return None


# --- recorded calls -------------------------------------------------------------------------------

def _load_calls(path: Path, info: dict[str, Any]) -> tuple[list[Call], list[str]]:
    problems = list(info.get("problems", []))
    if info.get("stopped"):
        problems.append(info["stopped"])
    calls: list[Call] = []
    try:
        with open(path, "rb") as fh:
            blobs = pickle.load(fh)
    except (OSError, EOFError, pickle.UnpicklingError) as exc:
        return [], [*problems, f"the recorded calls could not be read: {exc}"]
    for i, blob in enumerate(blobs, 1):
        try:
            calls.append(pickle.loads(blob))
        except Exception as exc:  # e.g. an instance of a class defined in the script's __main__
            problems.append(f"recorded call {i} cannot be loaded here: {type(exc).__name__}: {exc}")
    return calls, problems


def _eval_args(expressions: list[str], target: Target) -> list[Call]:
    import math as _math
    import random as _random

    import numpy as _np

    env = {"np": _np, "numpy": _np, "math": _math, "random": _random}
    calls: list[Call] = []
    for expr in expressions:
        try:
            ast.parse(expr, mode="eval")
        except SyntaxError as exc:
            raise TargetError(f"--args {expr!r}: not a Python expression ({exc.msg})") from None
        try:
            value = eval(expr, env, dict(vars(target.module)))  # noqa: S307 - the user's own expression, as asked
        except Exception as exc:  # the user's expression failed: one line naming it
            raise TargetError(f"--args {expr!r} raised {type(exc).__name__}: {exc}") from None
        calls.append((value if isinstance(value, tuple) else (value,), {}))
    return calls


# --- trying routes on one function ----------------------------------------------------------------

def _try_routes(target: Target, calls: list[Call], routes: tuple[str, ...], workdir: Path,
                progress: Progress) -> tuple[list[compile_routes.Variant], dict[str, timing.Check], dict[str, timing.Timing]]:
    variants: list[compile_routes.Variant] = []
    checks: dict[str, timing.Check] = {}
    for route in routes:
        progress(f"{target.name}: compiling with {route}")
        v = compile_routes.build(route, target, calls[0], workdir)
        variants.append(v)
        if v.status == "ok" and v.fn is not None:
            progress(f"{target.name}: checking {route} on {len(calls)} recorded calls")
            checks[route] = timing.verify(target.fn, v.fn, calls)
    funcs: dict[str, Callable[..., Any]] = {"original": target.fn}
    for v in variants:
        if v.fn is not None and checks.get(v.route) and checks[v.route].agrees:
            funcs[v.route] = v.fn
    mutates = any(c.mutates for c in checks.values())
    progress(f"{target.name}: timing {', '.join(funcs)} interleaved")
    timings = timing.time_interleaved(funcs, calls, mutates=mutates, progress=lambda s: progress(f"{target.name}: {s}"))
    return variants, checks, timings


def _tried_rows(label: str, variants: list[compile_routes.Variant], checks: dict[str, timing.Check],
                timings: dict[str, timing.Timing], *, total_s: float | None, part_s: float | None) -> list[estimate.Prediction]:
    rows = []
    t_orig = timings["original"].median_s
    for v in variants:
        row = estimate.Prediction(label, v.route, "tried", v.status, note=v.reason)
        row.extra = {"compile_s": v.compile_s, "setup_s": v.setup_s, "notes": v.notes}
        check = checks.get(v.route)
        if v.status == "ok" and check is not None:
            row.extra["checked_calls"] = check.calls
            if not check.agrees:
                row.status = "disagrees"
                row.note = check.first_difference
            else:
                t = timings[v.route]
                row.function_speedup = t_orig / t.median_s if t.median_s > 0 else math.inf
                row.extra.update(per_call_s=t.median_s, spread=t.spread)
                if total_s and part_s is not None:
                    row.overall = row.low = row.high = estimate.amdahl(total_s, part_s, row.function_speedup, v.setup_s)
                row.note = "; ".join(v.notes)
        rows.append(row)
    return rows


def _count_numba_setup(variants: list[compile_routes.Variant], target: Target, first_call: Call, prof: profiling.Profile,
                       workdir: Path) -> None:
    """Set the Numba variant's one-time cost to what a fresh run of the program pays (import, start-up, compile)."""
    for v in variants:
        if v.route == "numba" and v.status == "ok":
            setup = compile_routes.numba_setup_s(target, first_call, workdir, prof.loaded("numba"))
            if setup is not None:
                v.setup_s = setup
            what = "start-up and compile" if prof.loaded("numba") else "import numba, start-up and compile"
            v.notes.append(f"one-time cost per run included: {what} {v.setup_s:.2g} s (measured in a fresh process)")


# --- advise -----------------------------------------------------------------------------------------

def _candidates(prof: profiling.Profile, top: int) -> list[FunctionStat]:
    hot = [f for f in prof.functions if f.own_s >= 0.02 * prof.total_s][:top] or prof.functions[:1]
    # cProfile's own cost is subtracted with a calibration that a busy machine can skew; the
    # functions that lead by the uncorrected times are examined too (the runs measure them all).
    for f in sorted(prof.functions, key=lambda g: -g.raw_share)[:top]:
        if f not in hot and f.raw_share >= 0.02:
            hot.append(f)
    if hot and hot[0].kind == "many tiny calls":
        # Many tiny calls: the lesson's fix is to move the loop across the boundary, so the caller
        # that makes the calls is a candidate too.
        by_key = {(f.file, f.line, f.name): f for f in prof.functions}
        caller = next((by_key[c] for c in hot[0].callers if c in by_key), None)
        if caller is not None and caller not in hot:
            hot.append(caller)
    return hot


def _confirm(command: list[str], swaps: dict[str, list[dict[str, Any]]], runs: int, clock: str, workdir: Path,
             progress: Progress) -> tuple[dict[str, list[float]], dict[str, str]]:
    """Run the program ``runs`` times as it is and with each swap, interleaved; seconds per run by label."""
    seconds: dict[str, list[float]] = {"original": [], **{k: [] for k in swaps}}
    problems: dict[str, str] = {}
    reference_out: bytes | None = None
    for r in range(runs):
        for label in seconds:
            if label in problems:
                continue
            progress(f"--confirm: run {r + 1}/{runs} {'as it is' if label == 'original' else 'with ' + label}")
            res = profiling.run_program(command, workdir, swap=swaps.get(label), quiet=True)
            if res.status != 0:
                tail = res.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
                problems[label] = f"the program exited with status {res.status}: {tail[0]}"
                continue
            if label == "original":
                reference_out = reference_out if reference_out is not None else res.stdout
            elif reference_out is not None and res.stdout != reference_out:
                problems.setdefault(f"{label}:output", "its output differs from the original run's")
            seconds[label].append(res.cpu_s if clock == "cpu" else res.wall_s)
    return seconds, problems


def advise(opts: AdviseOptions, progress: Progress = _nothing) -> dict[str, Any]:
    """Run ``ffilab advise``; return the report (see ``docs`` in README: the --json output).

    Raises
    ------
    ProgramError
        The program is missing or failed (with its exit status), or the profile is not a profile.
    """
    with tempfile.TemporaryDirectory(prefix="ffilab-advise-") as tmp:
        return _advise(opts, Path(tmp), progress)


def _advise(opts: AdviseOptions, workdir: Path, progress: Progress) -> dict[str, Any]:
    report: dict[str, Any] = {"format": "ffilab-advise/1"}
    if opts.pstats is not None:
        stats = profiling.load_profile(opts.pstats)
        prof = profiling.analyse(stats, source=str(opts.pstats))
        report["program"] = {"profile": str(opts.pstats), "profiled_s": prof.total_s}
        first = None
    else:
        pstats_path = workdir / "program.pstats"
        profiling.parse_command(opts.command)  # a missing program or interpreter: said before anything runs
        progress("running the program under cProfile")
        first = profiling.run_program(opts.command, workdir, profile=pstats_path, stdout_to_stderr=opts.stdout_to_stderr)
        if first.status != 0:
            raise ProgramError(f"the program exited with status {first.status}; nothing to advise", first.status)
        prof = profiling.analyse(profiling.load_profile(pstats_path), source=" ".join(opts.command), bias=first.profiler_bias)
        report["program"] = {"command": opts.command, "profiled_s": prof.total_s, "profiled_wall_s": first.wall_s}
    waiting_share = prof.waiting_s / prof.total_s if prof.total_s else 0.0
    clock = "wall" if waiting_share >= 0.2 else "cpu"
    report["program"].update(waiting_share=waiting_share, waiting_in=prof.waiting_in,
                             numpy_share=prof.numpy_s / prof.total_s if prof.total_s else 0.0, clock=clock)
    hot = _candidates(prof, opts.top)
    report["functions"] = [dict(f.as_dict(), label=f.label) for f in hot]
    if not hot:
        report["recommendation"] = {"route": "none", "reason": "no function of your own code shows in the profile"}
        return report
    # Which candidates can be tried (recorded in a second run), and which timed in a third.
    targets: dict[str, Target] = {}
    timed_targets: dict[str, Target] = {}
    skipped: dict[str, str] = {}
    drivers: set[str] = set()
    by_label = {f.label: f for f in hot}
    for f in hot:
        if first is None:
            skipped[f.label] = "not tried: a profile file has no arguments to try it on; run `ffilab advise -- python script.py` to record them"
            continue
        try:
            target = load_script_function(Path(f.file), f.name, f.line)
        except TargetError as exc:
            skipped[f.label] = f"not tried: {exc}"
            continue
        if not inspect.signature(target.fn).parameters:
            # A function of no arguments is a driver (main): calling it again would re-run the program.
            skipped[f.label] = "not tried: it takes no arguments (a driver such as main); calling it again would re-run your program"
            drivers.add(f.label)
            continue
        if f.kind != "many tiny calls":
            timed_targets[f.label] = target
        if f.kind == "waiting":
            skipped[f.label] = f"waits {f.waiting_s / f.cum_s:.0%} of its time ({', '.join(f.waiting_in) or 'I/O'}): compiling cannot shorten waiting"
            continue
        if not opts.try_routes:
            skipped[f.label] = "not tried (--no-try)"
            continue
        targets[f.label] = target
    records: dict[str, tuple[list[Call], list[str], dict[str, Any]]] = {}
    total_s = prof.total_s
    in_run: dict[str, float] = {}
    specs: list[dict[str, Any]] = []
    second = None
    if targets:
        progress(f"running the program again to record the arguments of {', '.join(t.name for t in targets.values())}")
        for label, t in targets.items():
            # Calls spread over the whole run: every stride-th call, record_limit of them at most.
            stride = max(1, math.ceil(by_label[label].calls / opts.record_limit))
            specs.append(dict(t.runner_target, limit=opts.record_limit, stride=stride, out=str(workdir / f"rec_{len(specs)}.pkl"),
                              label=label))
        second = profiling.run_program(opts.command, workdir, record=specs, quiet=True)
        if second.status != 0:
            raise ProgramError(f"the program exited with status {second.status} when run again to record arguments", second.status)
    if targets or timed_targets:
        # The program's own time, and the time inside each function that does real work per call,
        # from a run with nothing but light timers (a recording wrapper costs at every call).
        heavy = [dict(t.runner_target) for t in timed_targets.values()]
        progress("running the program again, as it is" + (" with timers on " + ", ".join(t.name for t in timed_targets.values()) if heavy else "")
                 + ", to time it")
        third = profiling.run_program(opts.command, workdir, time=heavy, quiet=True)
        if third.status != 0:
            raise ProgramError(f"the program exited with status {third.status} when run again to time it", third.status)
        cpu_s, wall_s = third.cpu_s, third.wall_s
        in_run = {t["name"]: t["cpu_s" if clock == "cpu" else "wall_s"] for t in third.timed}
        total_s = cpu_s if clock == "cpu" else wall_s
        report["program"].update(cpu_s=cpu_s, wall_s=wall_s)
        for label, t in timed_targets.items():
            if t.name in in_run and total_s:
                entry_p = min(in_run[t.name] / total_s, 1.0)
                report.setdefault("measured_p", {})[label] = entry_p
    else:
        report["program"].update(cpu_s=None, wall_s=None)
    if second is not None:
        by_name = {r["name"]: r for r in second.records}
        for spec in specs:
            label = spec["label"]
            info = by_name.get(targets[label].name)
            if info is None:
                skipped[label] = "not tried: the second run never defined it (the program took another path)"
                continue
            calls, problems = _load_calls(Path(spec["out"]), info)
            if not calls:
                skipped[label] = "not tried: no call could be recorded" + (f" ({problems[0]})" if problems else "")
            records[label] = (calls, problems, info)
    costs = _costs(opts.results, progress)
    report["route_costs"] = costs.as_dict()
    rows: list[estimate.Prediction] = []
    swaps: dict[str, list[dict[str, Any]]] = {}
    per_function: dict[str, dict[str, Any]] = {}
    for f in hot:
        entry: dict[str, Any] = {"label": f.label, "kind": f.kind, "p_profile": f.p, "calls": f.calls}
        per_function[f.label] = entry
        calls, problems, _info = records.get(f.label, ([], [], {}))
        entry["recording_problems"] = problems
        entry["recorded_calls"] = len(calls)
        orig_per_call = f.cum_s / f.calls if f.calls else 0.0
        t_total = total_s
        if f.label in skipped or not calls:
            entry["skipped"] = skipped.get(f.label, "not tried: no recorded call")
            if f.label in timed_targets and timed_targets[f.label].name in in_run and total_s:
                entry["part_s"] = min(in_run[timed_targets[f.label].name], total_s)
                entry["p_timed"], entry["p_source"] = entry["part_s"] / total_s, "run"
            if first is not None and targets:
                # Without a timing of our own, the profile's per-call time scaled to the clean run.
                orig_per_call *= total_s / prof.total_s
        else:
            target = targets[f.label]
            variants, checks, timings = _try_routes(target, calls, opts.routes, workdir, progress)
            orig_per_call = timings["original"].median_s
            entry["original_per_call_s"] = orig_per_call
            entry["original_spread"] = timings["original"].spread
            if target.name in in_run:
                # Measured in the run itself: the calls' own time, as the program spent it.
                part_s = in_run[target.name]
                entry["p_source"] = "run"
            else:
                # Many tiny calls: a timer per call would cost more than the call; the calls x the
                # time per call on the recorded arguments stand for it.
                part_s = f.calls * orig_per_call
                entry["p_source"] = "calls x timed"
            part_s = min(part_s, total_s)
            entry["part_s"] = part_s
            entry["p_timed"] = part_s / total_s if total_s else None
            _count_numba_setup(variants, target, calls[0], prof, workdir)
            tried = _tried_rows(f.label, variants, checks, timings, total_s=total_s, part_s=part_s)
            rows += tried
            for v, row in zip(variants, tried):
                if row.status == "ok" and row.overall is not None and v.swap:
                    swaps[f"{v.route}:{f.name}"] = [dict(target.runner_target, **v.swap)]
                    row.extra["confirm_label"] = f"{v.route}:{f.name}"
                    row.extra["p"] = part_s / total_s if total_s else None
        if f.label in drivers or f.kind == "waiting":
            continue  # a driver re-runs the program; waiting is not work a route can speed up
        compiled_share = 0.0
        if f.cum_s > 0:
            compiled_share = min(1.0, f.waiting_s / f.cum_s + (f.numpy_s / f.cum_s if f.loops else (1.0 if f.kind == "NumPy" else f.numpy_s / f.cum_s)))
        shape = estimate.shape_of(calls) if calls else "float"
        entry["shape"] = shape
        part = entry.get("part_s", min(f.calls * orig_per_call, t_total))
        rows += estimate.estimate_rows(f.label, costs, total_s=t_total, part_s=part, calls=f.calls, orig_per_call_s=orig_per_call,
                                       shape=shape, compiled_share=compiled_share)
    if opts.confirm and swaps and opts.command:
        seconds, failures = _confirm(opts.command, swaps, opts.confirm_runs, clock, workdir, progress)
        base = statistics.median(seconds["original"]) if seconds["original"] else None
        report["confirm"] = {"clock": clock, "seconds": seconds, "problems": failures}
        for row in rows:
            label = str(row.extra.get("confirm_label") or "")
            if label and base and seconds.get(label):
                row.confirmed = base / statistics.median(seconds[label])
                p, speed = row.extra.get("p"), row.function_speedup
                if p is not None and speed:
                    # The same prediction (measured p, function speedup, one-time cost) at the
                    # program's time in these runs: a busy machine changes the time between runs,
                    # not the share or the speedup.
                    row.extra["predicted_at_confirm"] = estimate.amdahl(base, p * base, speed, float(row.extra["setup_s"]))
            for key in (label, f"{label}:output"):
                if label and key in failures:
                    row.note = (row.note + "; " if row.note else "") + f"--confirm: {failures[key]}"
    _rank_by_measured_self_time(hot, per_function, report)
    ranked = sorted(rows, key=lambda r: (r.overall is None, -(r.overall or 0.0)))
    report["rows"] = [r.as_dict() for r in ranked]
    report["per_function"] = per_function
    kinds = {f["label"]: f["kind"] for f in report["functions"]}
    callers = {}
    by_key = {(f.file, f.line, f.name): f for f in prof.functions}
    for f in hot:
        c = next((by_key[k] for k in f.callers if k in by_key), None)
        if c is not None:
            callers[f.label] = c.label
    route, reason = estimate.recommend(rows, waiting_share=waiting_share, kinds=kinds, callers=callers)
    report["recommendation"] = {"route": route, "reason": reason}
    return report


def _rank_by_measured_self_time(hot: list[FunctionStat], per_function: dict[str, dict[str, Any]], report: dict[str, Any]) -> None:
    """Order the hot functions by their own time as measured in the runs, where it was.

    The profile's split between a function of many tiny calls and its caller rests on cProfile's
    per-call cost (subtracted, but it varies with the machine's load); a measured share less the
    measured shares of the hot functions it calls is the firmer number.
    """
    keys = {(f.file, f.line, f.name): f.label for f in hot}
    self_s: dict[str, float] = {}
    for f in hot:
        part = per_function.get(f.label, {}).get("part_s")
        if part is None:
            continue
        inner = 0.0
        for g in hot:
            g_part = per_function.get(g.label, {}).get("part_s")
            if g is not f and g_part is not None and g.callers and keys.get(g.callers[0]) == f.label:
                inner += g_part
        self_s[f.label] = max(part - inner, 0.0)
        per_function[f.label]["self_part_s"] = self_s[f.label]
    if not self_s:
        return
    order = {f.label: i for i, f in enumerate(hot)}
    report["functions"].sort(key=lambda d: (d["label"] not in self_s, -self_s.get(d["label"], 0.0), order[d["label"]]))


def _costs(results: Path | None, progress: Progress) -> estimate.RouteCosts:
    if results is not None:
        try:
            return estimate.from_results(results)
        except (OSError, ValueError) as exc:
            raise ProgramError(f"--results {results}: {exc}") from None
    progress("measuring this machine's route overheads (no --results file given)")
    return estimate.measure_quick(progress)


# --- try ----------------------------------------------------------------------------------------------

def try_function(opts: TryOptions, progress: Progress = _nothing) -> dict[str, Any]:
    """Run ``ffilab try``: compile, verify and time one function on given or recorded arguments.

    Raises
    ------
    TargetError
        The function cannot be imported, or the arguments are not valid expressions.
    ProgramError
        The recording command is missing or failed.
    """
    with tempfile.TemporaryDirectory(prefix="ffilab-try-") as tmp:
        return _try(opts, Path(tmp), progress)


def _try(opts: TryOptions, workdir: Path, progress: Progress) -> dict[str, Any]:
    if bool(opts.args) == bool(opts.record):
        raise TargetError("give the arguments either with --args EXPR (repeatable) or with --record -- python script.py ARGS")
    target = load_function(opts.function)
    report: dict[str, Any] = {"format": "ffilab-try/1", "function": target.spec, "file": str(target.file), "line": target.line}
    problems: list[str] = []
    n_calls = None
    p_profile = None
    loaded_from: profiling.Profile | None = None
    if opts.args:
        calls = _eval_args(opts.args, target)
    else:
        pstats_path = workdir / "record.pstats"
        spec = dict(target.runner_target, limit=opts.record_limit, out=str(workdir / "rec.pkl"))
        progress("running the program to record the arguments")
        res = profiling.run_program(opts.record, workdir, profile=pstats_path, record=[spec], stdout_to_stderr=opts.stdout_to_stderr)
        if res.status != 0:
            raise ProgramError(f"the program exited with status {res.status}; no arguments recorded", res.status)
        info = next((r for r in res.records if r["name"] == target.name), None)
        if info is None:
            raise ProgramError(f"the program never defined {target.spec} (is it the program's module?)")
        calls, problems = _load_calls(Path(str(spec["out"])), info)
        prof = profiling.analyse(profiling.load_profile(pstats_path), bias=res.profiler_bias)
        f = next((x for x in prof.functions if x.name == target.name and os.path.realpath(x.file) == os.path.realpath(target.file)), None)
        if f is not None:
            n_calls, p_profile = f.calls, f.p
        loaded_from = prof
    report["recorded_calls"] = len(calls)
    report["recording_problems"] = problems
    if not calls:
        raise ProgramError(f"no call of {target.spec} could be recorded" + (f": {problems[0]}" if problems else ""))
    variants, checks, timings = _try_routes(target, calls, opts.routes, workdir, progress)
    if loaded_from is not None:
        _count_numba_setup(variants, target, calls[0], loaded_from, workdir)
    rows = _tried_rows(target.spec, variants, checks, timings, total_s=None, part_s=None)
    report["original_per_call_s"] = timings["original"].median_s
    report["original_spread"] = timings["original"].spread
    report["calls_in_run"] = n_calls
    report["p_profile"] = p_profile
    if p_profile is not None:
        for row in rows:
            if row.function_speedup:
                row.extra["overall_from_profile_p"] = 1.0 / ((1 - p_profile) + p_profile / row.function_speedup)
    if opts.confirm:
        if not opts.record:
            raise TargetError("--confirm re-runs a program: give it with --record -- python script.py ARGS")
        swaps = {}
        for v, row in zip(variants, rows):
            if row.status == "ok" and v.swap:
                swaps[v.route] = [dict(target.runner_target, **v.swap)]
                row.extra["confirm_label"] = v.route
        seconds, cproblems = _confirm(opts.record, swaps, opts.confirm_runs, "cpu", workdir, progress)
        base = statistics.median(seconds["original"]) if seconds["original"] else None
        report["confirm"] = {"clock": "cpu", "seconds": seconds, "problems": cproblems}
        for row in rows:
            label = row.extra.get("confirm_label")
            if label and base and seconds.get(label):
                row.confirmed = base / statistics.median(seconds[label])
                if n_calls and row.function_speedup:
                    part = min(n_calls * timings["original"].median_s, base)
                    row.overall = estimate.amdahl(base, part, row.function_speedup, row.extra["setup_s"])
            if label and label in cproblems:
                row.note = (row.note + "; " if row.note else "") + f"--confirm: {cproblems[label]}"
    report["rows"] = [r.as_dict() for r in rows]
    return report



