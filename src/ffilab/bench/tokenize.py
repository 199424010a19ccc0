"""Benchmarks of the tokenizer (issue #7): every route and the field's tools on one real corpus, side by side.

``python -m ffilab.bench.tokenize`` (or :func:`run`; ``ffilab bench`` includes it) measures, on
this machine and in one run:

1. every route's ``tokenize_batch`` over the same sample of the mixed corpus (``ffilab.text.corpus``:
   King James verses, CLDR/pycountry strings of 100+ languages, Zipf sentences from wordfreq and an
   NFKC-stress share), in batches of ``batch`` records: records/s and the speedup over the
   reference (goal: some route >= 10x, single-threaded);
2. a floor, ``[t.lower().split() for t in texts]``: what CPython's own C code pays to turn
   records into lists of new strs, with no normalisation and no rules (no tokenizer returning
   lists of str can be much faster), then peers a user might pick instead, each over the same sample: the stdlib ``re`` with an exact
   character class built from the contract's table (idiomatic Python, exact), PyICU's
   ``nfkc_cf`` normaliser + a ``regex`` split (goal: the best route >= its throughput), ``regex``
   alone, Hugging Face ``tokenizers`` (NFKC + lowercase + whitespace/punctuation pre-tokenizer)
   and ``blingfire``.  The peers do not implement ffilab's contract, so each row says what share
   of records get tokens identical to the reference's;
3. the optional kernel ``tokenize_arrow`` (issue #18: the same tokens as an Arrow ``list<string>``
   array written by native code, :mod:`ffilab.text.arrow`) of every route that has it, on the
   same batches as lists of str and as Arrow string arrays (what the pipeline hands it), verified
   equal to ``pa.array`` of the reference's tokens (goal: >= 3x the fastest ``tokenize_batch``);
4. per-source throughput of the fastest route (ASCII-heavy Bible text against the stress text).

Method: a route is timed only after its output on the whole sample equals the reference's
exactly (``ffilab.verify.compare_results``); a route that differs is reported and not timed.
Each subject is timed ``repeats`` times after a warm-up pass, on the calling thread's CPU clock
(all subjects are single-threaded), median and spread (IQR / median) reported; ratios are of
medians of the same run.  The end-to-end pipeline (read, tokenize, write; worker processes;
Amdahl's prediction against the measured speedup, records/s per worker count and the projection
for 100M records) is measured last, by ``ffilab tokenize --profile``'s own function
(``ffilab.text.pipeline.profile``) on a corpus file written for it.
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import sys
import time
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import ffilab
from ffilab import contract
from ffilab.report.units import fmt_time
from ffilab.stats import median_spread
from ffilab.text import corpus
from ffilab.verify import compare_results

__all__ = ["Config", "GOALS", "print_rows", "run"]

UNAVAILABLE_BENCH = "unavailable: install ffilab[bench]"

#: goal id -> (what, target ratio)
GOALS: dict[str, tuple[str, float | None]] = {
    "speedup": ("fastest route vs the reference, single-threaded, mixed corpus", 10.0),
    "icu": ("fastest route vs PyICU nfkc_cf + regex split", 1.0),
    "arrow": ("fastest tokenize_arrow (Arrow in) vs the fastest tokenize_batch, single-threaded", 3.0),
}


@dataclass
class Config:
    """What to measure.

    Attributes
    ----------
    records : int
        Records of the mixed-corpus sample every subject tokenizes.
    batch : int
        Records per ``tokenize_batch`` call.
    repeats : int
        Timed passes over the sample per subject (after one warm-up pass).
    seed : int
        Corpus seed.
    routes : tuple of str
        Routes to measure (empty: every available one).
    pipeline_records : int
        Records of the corpus file the end-to-end pipeline profile reads (0 skips it): the
        reference and the fastest route (on the arrow path where it has ``tokenize_arrow``), 1
        worker and one per CPU, threads and processes.
    pipeline_batch : int
        Records per batch of the pipeline (its default: one Parquet row group).
    """

    records: int = 20_000
    batch: int = 10_000
    repeats: int = 5
    seed: int = 0
    routes: tuple[str, ...] = ()
    pipeline_records: int = 200_000
    pipeline_batch: int = 65_536


def _batches(texts: list[str], size: int) -> list[list[str]]:
    return [texts[i : i + size] for i in range(0, len(texts), size)]


def _times(fn: Callable[[], Any], repeats: int) -> list[float]:
    fn()  # warm-up: lazy tables (char_classes), caches, first-touch
    out = []
    for _ in range(repeats):
        # Every pass allocates hundreds of thousands of objects and so triggers the cyclic GC;
        # collecting before it starts each pass from the same GC state, so that a full collection
        # owed to the previous pass's garbage does not land in this one's time (it did: one pass
        # in five took 1.6x the others).  Collections the pass itself triggers stay in its time.
        gc.collect()
        start = time.thread_time()
        fn()
        out.append(time.thread_time() - start)
    return out


def _row(group: str, subject: str, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"group": group, "subject": subject, "status": "ok", "seconds": None, "best": None,
                           "spread": None, "records": None, "per_second": None, "mb_per_second": None,
                           "vs_python": None, "agreement": None, "note": ""}
    row.update(fields)
    if row["seconds"] and row["records"]:
        row["per_second"] = row["records"] / row["seconds"]
    return row


# ------------------------------------------------------------------------------------------------
# Peers: what a user would write or install instead.  None implements the contract exactly except
# the stdlib-re one; their agreement with the reference is measured, not assumed.
# ------------------------------------------------------------------------------------------------


def _class_ranges(bit: int) -> str:
    """A regular-expression character class body of every code point whose class has ``bit``."""
    table = contract.char_classes()
    parts = []
    cp = 0
    while cp < len(table):
        if table[cp] & bit:
            start = cp
            while cp + 1 < len(table) and table[cp + 1] & bit:
                cp += 1
            parts.append(re.escape(chr(start)) if start == cp else f"{re.escape(chr(start))}-{re.escape(chr(cp))}")
        cp += 1
    return "".join(parts)


def _rules(tokens: list[str]) -> list[str]:
    limit, num = contract.TOKEN_MAX_CHARS, contract.NUM_TOKEN
    return [num if t.isdigit() else t for t in tokens if len(t) <= limit]


def _peer_stdlib_re() -> Callable[[list[str]], list[list[str]]]:
    word = _class_ranges(contract.CHAR_WORD)
    joiners = re.escape(contract.TOKEN_JOINERS)
    pattern = re.compile(f"[{word}]+(?:[{joiners}][{word}]+)*")
    findall, normalize, casefold = pattern.findall, unicodedata.normalize, str.casefold

    def tokenize(texts: list[str]) -> list[list[str]]:
        return [_rules(findall(casefold(normalize("NFKC", t)))) for t in texts]

    return tokenize


def _regex_pattern() -> Any:
    import regex

    # UTS #18's word characters as the contract counts them: letters and numbers (isalnum),
    # marks, connector punctuation; joiners between word characters.
    return regex.compile(r"[\p{L}\p{N}\p{M}\p{Pc}]+(?:['\u2019\-\u2010\u200c\u200d][\p{L}\p{N}\p{M}\p{Pc}]+)*")


def _peer_regex() -> Callable[[list[str]], list[list[str]]]:
    findall = _regex_pattern().findall
    normalize, casefold = unicodedata.normalize, str.casefold

    def tokenize(texts: list[str]) -> list[list[str]]:
        return [_rules(findall(casefold(normalize("NFKC", t)))) for t in texts]

    return tokenize


def _peer_icu() -> Callable[[list[str]], list[list[str]]]:
    import icu

    nfkc_cf = icu.Normalizer2.getNFKCCasefoldInstance()
    findall = _regex_pattern().findall

    def tokenize(texts: list[str]) -> list[list[str]]:
        return [_rules(findall(nfkc_cf.normalize(t))) for t in texts]

    return tokenize


def _peer_hf_tokenizers() -> Callable[[list[str]], list[list[str]]]:
    from tokenizers import normalizers, pre_tokenizers

    norm = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    pre = pre_tokenizers.BertPreTokenizer()  # splits on whitespace and punctuation

    def tokenize(texts: list[str]) -> list[list[str]]:
        return [[w for w, _ in pre.pre_tokenize_str(norm.normalize_str(t))] for t in texts]

    return tokenize


def _peer_blingfire() -> Callable[[list[str]], list[list[str]]]:
    import blingfire

    def tokenize(texts: list[str]) -> list[list[str]]:
        return [blingfire.text_to_words(t).split() for t in texts]

    return tokenize


def _floor_split() -> Callable[[list[str]], list[list[str]]]:
    # Not a tokenizer of the contract: the least any tokenizer returning lists of str pays in
    # CPython (one C call per record, one new str per word, no Unicode normalisation, no rules).
    def tokenize(texts: list[str]) -> list[list[str]]:
        return [t.lower().split() for t in texts]

    return tokenize


PEERS: dict[str, tuple[str, Callable[[], Callable[[list[str]], list[list[str]]]]]] = {
    "floor: str.lower().split() (no NFKC, no rules)": ("floor", _floor_split),
    "stdlib re (exact class from the contract)": ("stdlib", _peer_stdlib_re),
    "PyICU nfkc_cf + regex split": ("icu", _peer_icu),
    "regex (NFKC + casefold in Python)": ("regex", _peer_regex),
    "HF tokenizers (NFKC, lowercase, BertPreTokenizer)": ("tokenizers", _peer_hf_tokenizers),
    "blingfire text_to_words": ("blingfire", _peer_blingfire),
}


# ------------------------------------------------------------------------------------------------


def run(cfg: Config | None = None, progress: Callable[[str], None] = lambda _what: None) -> dict[str, Any]:
    """Measure every route and peer; return ``{"config", "machine", "rows", "goals"}``."""
    cfg = cfg or Config()
    progress(f"tokenizer: building a {cfg.records:,}-record sample of the mixed corpus")
    texts = corpus.sample_texts(cfg.records, cfg.seed)
    chars = sum(map(len, texts))
    mbytes = sum(len(t.encode("utf-8", "surrogatepass")) for t in texts) / 1e6
    batches = _batches(texts, cfg.batch)
    want = ffilab.route("python").tokenize_batch(texts)
    rows: list[dict[str, Any]] = []
    per_route: dict[str, float] = {}

    names = list(cfg.routes) or [i.name for i in ffilab.routes()]
    for name in names:
        progress(f"tokenizer: route {name}")
        try:
            module = ffilab.route(name)
        except ffilab.RouteUnavailable as exc:
            rows.append(_row("routes", name, status=f"unavailable: {exc}"))
            continue
        fn = module.tokenize_batch
        got = [tok for b in batches for tok in fn(b)]
        problem = compare_results("tokenize_batch", got, want, (texts,))
        if problem:
            rows.append(_row("routes", name, status=f"fails verification: {problem}"))
            continue
        st = median_spread(_times(lambda fn=fn: [fn(b) for b in batches], cfg.repeats))
        per_route[name] = st["seconds"]
        rows.append(_row("routes", name, records=len(texts), mb_per_second=mbytes / st["seconds"], agreement=1.0, **st))
    base = per_route.get("python")
    for r in rows:
        if base and r["seconds"]:
            r["vs_python"] = base / r["seconds"]

    peer_seconds: dict[str, float] = {}
    for label, (key, factory) in PEERS.items():
        progress(f"tokenizer: peer {label}")
        try:
            fn = factory()
        except ImportError as exc:
            rows.append(_row("peers", label, status=UNAVAILABLE_BENCH, note=f"{type(exc).__name__}: {exc}"))
            continue
        got = [tok for b in batches for tok in fn(b)]
        agreement = sum(g == w for g, w in zip(got, want)) / len(want) if want else 1.0
        st = median_spread(_times(lambda fn=fn: [fn(b) for b in batches], cfg.repeats))
        peer_seconds[key] = st["seconds"]
        rows.append(_row("peers", label, records=len(texts), mb_per_second=mbytes / st["seconds"], agreement=agreement,
                         vs_python=(base / st["seconds"]) if base else None,
                         note="" if agreement == 1.0 else "tokens differ from the contract on some records", **st))

    arrow_seconds = _arrow_rows(names, texts, batches, want, mbytes, base, cfg, rows, progress)

    fastest = min(per_route, key=per_route.__getitem__) if per_route else None
    if fastest:
        fn = ffilab.route(fastest).tokenize_batch
        ref_fn = ffilab.route("python").tokenize_batch
        for mix in ("bible", "multilingual", "zipf", "stress"):
            progress(f"tokenizer: {fastest} on the {mix} source")
            part = corpus.sample_texts(min(cfg.records, 10_000), cfg.seed, mix)
            # Sliced once, outside the timed passes, as the routes' batches above are.
            part_batches = _batches(part, cfg.batch)
            st = median_spread(_times(lambda: [fn(b) for b in part_batches], cfg.repeats))
            ref = median_spread(_times(lambda: [ref_fn(b) for b in part_batches], max(1, cfg.repeats // 2)))
            rows.append(_row("sources", f"{fastest} on {mix}", records=len(part), vs_python=ref["seconds"] / st["seconds"],
                             note=f"{sum(t.isascii() for t in part) / len(part):.0%} of records ASCII", **st))

    pipeline: dict[str, Any] = {}
    # The pipeline's fastest route: one with tokenize_arrow where there is one (its arrow path
    # leaves the lists path's conversions out), else the fastest tokenize_batch.
    fastest_arrow = min(arrow_seconds, key=arrow_seconds.__getitem__) if arrow_seconds else None
    if (fastest_arrow or fastest) and cfg.pipeline_records:
        pipeline = _pipeline(cfg, fastest_arrow or fastest, progress)

    goals: dict[str, Any] = {}
    ratios_speed = [base / per_route[fastest]] if base and fastest else []
    goals["speedup"] = {"what": GOALS["speedup"][0], "target": GOALS["speedup"][1], "ratios": ratios_speed,
                        "subject": fastest, "met": bool(ratios_speed) and ratios_speed[0] >= GOALS["speedup"][1]}
    best_arrow = min(arrow_seconds, key=arrow_seconds.__getitem__) if arrow_seconds else None
    ratios_arrow = [per_route[fastest] / arrow_seconds[best_arrow]] if best_arrow and fastest else []
    goals["arrow"] = {"what": GOALS["arrow"][0], "target": GOALS["arrow"][1], "ratios": ratios_arrow,
                      "subject": f"{best_arrow} vs {fastest} tokenize_batch" if best_arrow else None,
                      "met": bool(ratios_arrow) and ratios_arrow[0] >= GOALS["arrow"][1]}
    icu = peer_seconds.get("icu")
    ratios_icu = [icu / per_route[fastest]] if icu and fastest else []
    goals["icu"] = {"what": GOALS["icu"][0], "target": GOALS["icu"][1], "ratios": ratios_icu, "subject": fastest,
                    "met": bool(ratios_icu) and ratios_icu[0] >= GOALS["icu"][1]}
    import os
    import platform

    machine = {"cpus": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()],
               "python": platform.python_version(), "unicode": unicodedata.unidata_version}
    return {"config": asdict(cfg), "machine": machine, "sample": {"records": len(texts), "chars": chars, "mbytes": mbytes},
            "rows": rows, "goals": goals, "pipeline": pipeline}


def _arrow_rows(names: list[str], texts: list[str], batches: list[list[str]], want: list[list[str]], mbytes: float,
                base: float | None, cfg: Config, rows: list[dict[str, Any]],
                progress: Callable[[str], None]) -> dict[str, float]:
    """Time every route's ``tokenize_arrow`` on the batches as lists and as Arrow arrays; add rows.

    Returns the seconds of each verified route on Arrow input (the pipeline's), by row subject.
    """
    import pyarrow as pa

    from ffilab.text.arrow import TOKENS_TYPE, arrow_tokenizer

    expected = pa.array(want, type=TOKENS_TYPE)
    # Built outside the timed passes, as the pipeline reads them.
    arrow_batches = [pa.array(b, type=pa.string()) for b in batches]
    out: dict[str, float] = {}
    for name in names:
        fn = arrow_tokenizer(name)
        if fn is None:
            continue
        for label, inputs in (("list of str in", batches), ("Arrow array in", arrow_batches)):
            subject = f"{name} tokenize_arrow ({label})"
            progress(f"tokenizer: {subject}")
            got = pa.concat_arrays([fn(b) for b in inputs]) if inputs else pa.array([], TOKENS_TYPE)
            if not got.equals(expected):
                rows.append(_row("arrow", subject, status="fails verification: tokens differ from pa.array(reference)"))
                continue
            st = median_spread(_times(lambda fn=fn, inputs=inputs: [fn(b) for b in inputs], cfg.repeats))
            rows.append(_row("arrow", subject, records=len(texts), mb_per_second=mbytes / st["seconds"], agreement=1.0,
                             vs_python=(base / st["seconds"]) if base else None,
                             note="Arrow list<string> out, no Python object per token", **st))
            if inputs is arrow_batches:
                out[name] = st["seconds"]
    return out


def _pipeline(cfg: Config, route: str, progress: Callable[[str], None]) -> dict[str, Any]:
    """``ffilab tokenize --profile`` on a corpus file: time split, Amdahl, worker scaling."""
    import os
    import tempfile

    from ffilab.text import pipeline

    with tempfile.TemporaryDirectory(prefix="ffilab-bench-") as tmp:
        path = os.path.join(tmp, "corpus.parquet")
        progress(f"tokenizer pipeline: writing a {cfg.pipeline_records:,}-record corpus")
        corpus.write_parquet(path, cfg.pipeline_records, cfg.seed)
        workers = sorted({1, max(2, os.cpu_count() or 1)})
        progress(f"tokenizer pipeline: profiling python and {route} on {workers} workers")
        # The route on its fastest path (arrow where it has tokenize_arrow; the lists path's kernel
        # is timed above, and `ffilab tokenize --profile` shows both paths end to end), with both
        # parallel modes, so that the choice between them is measured.
        result = pipeline.profile(path, routes=[route], workers=workers, batch_size=cfg.pipeline_batch,
                                  parallel=("threads", "processes"), paths=("arrow",))
    return result


def _tree_rss(root: int, cpu: dict[int, float] | None = None) -> int:
    """Resident bytes of process ``root`` and all its descendants, read from /proc (0 once gone).

    ``cpu``, if given, gets each of those processes' CPU seconds so far (user + system).
    """
    import os

    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    ticks: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry)
        children.setdefault(int(fields[1]), []).append(pid)  # fields[1]: the parent's pid
        rss[pid] = int(fields[21]) * page  # fields[21]: resident pages
        ticks[pid] = int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
    total, todo = 0, [root]
    hz = os.sysconf("SC_CLK_TCK")
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        if cpu is not None and pid in ticks:
            cpu[pid] = ticks[pid] / hz
        todo.extend(children.get(pid, []))
    return total


def run_measured(args: list[str], interval: float = 0.02) -> dict[str, Any]:
    """Run ``ffilab tokenize ARGS`` in a child process; its wall time, CPU and peak RSS of the whole tree.

    The peak is the largest sum of the resident sets of the command and every process under it
    (worker processes, the fork server), sampled every ``interval`` seconds: the memory the run
    needs at once, which a per-process maximum (``/usr/bin/time``'s) would understate.  CPU is
    the sum over that tree of each process's user + system time as last sampled (what a process
    spends after its last sample is missed: a few tens of milliseconds at most).
    """
    import os
    import subprocess

    cpu: dict[int, float] = {}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "ffilab", "tokenize", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, COLUMNS="200"))
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss(proc.pid, cpu))
        time.sleep(interval)
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"ffilab tokenize {' '.join(args)} failed: {err.strip()[-2000:]}")
    return {"args": args, "wall_s": wall, "peak_rss_bytes": peak, "output": out.strip(),
            "cpu_s": sum(cpu.values()),
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def print_rows(results: dict[str, Any], console: Any = None) -> None:
    """Print the rows and the goals as rich tables (the hook ``ffilab bench`` calls)."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    s = results["sample"]
    table = Table(title=f"ffilab tokenizer: {s['records']:,} mixed-corpus records ({s['mbytes']:.1f} MB UTF-8), "
                        "median thread CPU time per pass", title_justify="left")
    for col in ("group", "subject", "time", "spread", "records/s", "MB/s", "vs python", "same tokens", "notes"):
        table.add_column(col, justify="left" if col in ("group", "subject", "notes") else "right")
    for r in results["rows"]:
        if not r["seconds"]:
            table.add_row(r["group"], r["subject"], "-", "-", "-", "-", "-", "-", f"{r['status']} {r['note']}".strip())
            continue
        table.add_row(r["group"], r["subject"], fmt_time(r["seconds"]), f"{r['spread']:.0%}",
                      f"{r['per_second']:,.0f}", "-" if r["mb_per_second"] is None else f"{r['mb_per_second']:.1f}",
                      "-" if r["vs_python"] is None else f"{r['vs_python']:.1f}x",
                      "-" if r["agreement"] is None else f"{r['agreement']:.1%}", r["note"])
    console.print(table)
    if results.get("pipeline"):
        from ffilab.text import pipeline

        pipeline.print_profile(results["pipeline"], console)
    for g in results["goals"].values():
        if not g["ratios"]:
            console.print(f"not measured: {g['what']} (a baseline is unavailable here; pip install \".[bench]\")", markup=False)
            continue
        console.print(f"{'met' if g['met'] else 'NOT met'}: {g['what']} ({g['subject']}: "
                      f"{', '.join(f'{x:.2f}x' for x in g['ratios'])}; target {g['target']}x)", markup=False)


def main(argv: list[str] | None = None) -> int:
    """``python -m ffilab.bench.tokenize``: run, print, optionally save JSON; exit 1 if a route fails verification."""
    parser = argparse.ArgumentParser(prog="python -m ffilab.bench.tokenize", description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=Config.records)
    parser.add_argument("--batch", type=int, default=Config.batch)
    parser.add_argument("--repeats", type=int, default=Config.repeats)
    parser.add_argument("--pipeline-records", type=int, default=Config.pipeline_records,
                        help="records of the end-to-end pipeline profile (0: skip it)")
    parser.add_argument("--pipeline-batch", type=int, default=Config.pipeline_batch,
                        help="records per batch of the pipeline profile")
    parser.add_argument("--route", action="append", default=[], help="measure only this route (repeatable)")
    parser.add_argument("--json", dest="json_out", default=None, help="also write the results to this JSON file")
    parser.add_argument("--run", nargs=argparse.REMAINDER, default=None, metavar="TOKENIZE_ARGS",
                        help="instead: run `ffilab tokenize TOKENIZE_ARGS` and print its wall time, CPU time and the "
                             "peak resident memory of its whole process tree (parent and workers) as JSON")
    args = parser.parse_args(argv)
    if args.run is not None:
        print(json.dumps(run_measured(args.run), indent=1))
        return 0
    cfg = Config(records=args.records, batch=args.batch, repeats=args.repeats, routes=tuple(args.route),
                 pipeline_records=args.pipeline_records, pipeline_batch=args.pipeline_batch)
    from rich.console import Console

    err = Console(stderr=True)
    results = run(cfg, progress=lambda what: err.log(what))
    print_rows(results)
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=1)
    return 1 if any(r["status"].startswith("fails") for r in results["rows"]) else 0


if __name__ == "__main__":
    raise SystemExit(main())
