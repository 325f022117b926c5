"""`veil bench ops`: veil's operators side by side with SecretFlow SPU 0.9.5's, in one run.

    veil bench ops [--n 10000] [--sizes 10000,100000,1000000] [--ops mul,exp,...]
                   [--protocols semi2k,aby3] [--fields FM64,FM128] [--with-spu] [--no-exp]

Writes benchmarks/results/ops_veil.csv, ops_spu.csv, ops_compare.csv, exp_bench.csv, PNG plots
and the markdown summary ops.md (one comparison table: veil / SPU per metric per op).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from veil.bench import ops_table as T

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="veil bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("what", choices=["ops"], help="which benchmark")
    p.add_argument(
        "--n", type=int, default=10_000, help="elements for the comparison table (SPU runs at this n)"
    )
    p.add_argument("--sizes", default="", help="comma list of n for time/memory fits (default: n/10,n)")
    p.add_argument("--ops", default=",".join(T.OPS), help="comma list from: " + ",".join(T.OPS))
    p.add_argument("--protocols", default="semi2k,aby3")
    p.add_argument("--fields", default="FM64,FM128")
    p.add_argument("--repeat", type=int, default=3, help="timed runs per point (median)")
    p.add_argument("--no-memory", action="store_true", help="skip the tracemalloc memory pass")
    p.add_argument("--with-spu", action="store_true", help="run SPU 0.9.5 in .spu-venv and compare")
    p.add_argument("--spu-jsonl", default="", help="reuse SPU rows from this file instead of running SPU")
    p.add_argument(
        "--veil-jsonl", default="", help="reuse veil rows (ops_veil_raw.jsonl) instead of running veil"
    )
    p.add_argument("--no-exp", action="store_true", help="skip the six-dimension exp benchmark")
    p.add_argument("--exp-methods", default=",".join(T.EXP_METHODS))
    p.add_argument("--exp-sizes", default="1000,10000", help="n for the exp time/memory models")
    p.add_argument(
        "--exp-mem-sizes",
        default="",
        help="n for the exp memory model only (default: --exp-sizes; sizes past a 16 GiB fitted peak are skipped)",
    )
    p.add_argument("--levels", default="100gbit_0ms,1gbit_1ms,100mbit_10ms,10mbit_100ms")
    p.add_argument("--out-dir", default=str(DEFAULT_OUT))
    return p


def _ints(text: str) -> list[int]:
    return [int(float(s)) for s in text.split(",") if s.strip()]


def _configs(protocols: str, fields: str) -> list[str]:
    want_p = {s.strip().lower() for s in protocols.split(",") if s.strip()}
    want_f = {s.strip().upper() for s in fields.split(",") if s.strip()}
    return [name for name, (p, f, _) in T.CONFIGS.items() if p in want_p and f in want_f]


def main(argv: list[str] | None = None) -> int:
    """Entry point of `veil bench` (see the module docstring)."""
    a = _parser().parse_args(argv)
    ops = [s for s in a.ops.split(",") if s]
    unknown = [s for s in ops if s not in T.OPS]
    if unknown:
        raise SystemExit(f"veil bench ops: unknown op(s) {unknown}; choose from {','.join(T.OPS)}")
    configs = _configs(a.protocols, a.fields)
    if not configs:
        raise SystemExit(
            f"veil bench ops: no configuration matches {a.protocols} x {a.fields}; have {list(T.CONFIGS)}"
        )
    sizes = sorted(set(_ints(a.sizes) or [max(1, a.n // 10), a.n]))
    if a.n not in sizes:
        sizes = sorted(set(sizes + [a.n]))
    levels = [s for s in a.levels.split(",") if s]
    out_dir = Path(a.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return run(a, ops, configs, sizes, levels, out_dir)


def run(
    a: Any, ops: list[str], configs: list[str], sizes: list[int], levels: list[str], out_dir: Path
) -> int:
    """Both sides, then the files."""
    from veil.bench import exp_bench, report, spu_side

    started = time.time()
    if a.veil_jsonl:
        rows = spu_side.read_rows(Path(a.veil_jsonl))
        veil_rows = [r for r in rows if r.get("kind") != "exp_bench"]
        exp_rows = [r for r in rows if r.get("kind") == "exp_bench"]
        print(f"veil rows read from {a.veil_jsonl}")
    else:
        veil_rows, exp_rows = _veil_side(a, ops, configs, sizes, levels, out_dir / "ops_veil_raw.jsonl")
    spu_rows, spu_note = _spu(a, ops, configs)
    if spu_rows and not a.spu_jsonl:
        (out_dir / "ops_spu_raw.jsonl").write_text("", encoding="utf-8")
        _append(out_dir / "ops_spu_raw.jsonl", spu_rows)
    exp_rows += _spu_exp_rows(spu_rows, levels, exp_bench)
    compare = report.comparison(veil_rows, spu_rows, a.n)
    for name, rows in [
        ("ops_veil.csv", veil_rows),
        ("ops_spu.csv", [r for r in spu_rows if r.get("kind") != "exp_bench"]),
        ("ops_compare.csv", compare),
        ("exp_bench.csv", exp_rows),
    ]:
        report.write_csv(out_dir / name, rows)
    pngs = report.plot(compare, out_dir) if spu_rows and compare else []
    if a.veil_jsonl:
        spu_note = f"veil rows read from {a.veil_jsonl}" + (f"; {spu_note}" if spu_note else "")
    md = _markdown(a, compare, veil_rows, exp_rows, spu_note, levels, sizes, time.time() - started, report)
    (out_dir / "ops.md").write_text(md, encoding="utf-8")
    print(f"wrote {out_dir}/ops.md, CSV files" + (f" and {len(pngs)} plots" if pngs else ""))
    return 0


def _veil_side(
    a: Any, ops: list[str], configs: list[str], sizes: list[int], levels: list[str], raw: Path
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """veil's rows (one subprocess per op and config) and exp benchmark rows, appended to `raw`
    as they come so that an interrupted run keeps what it measured (reuse with --veil-jsonl)."""
    from veil.bench import exp_bench, veil_ops

    raw.write_text("", encoding="utf-8")
    veil_rows: list[dict[str, Any]] = []
    exp_rows: list[dict[str, Any]] = []
    notready = veil_ops.veil_ready()
    if notready is not None:
        print(f"veil side skipped: veil.jit does not run yet ({notready})")
        return veil_rows, exp_rows
    print(f"veil: ops {','.join(ops)} x {','.join(configs)} at n = {sizes}")
    for op in ops:
        for cfg in configs:
            p, f, _ = T.CONFIGS[cfg]
            if T.OPS[op].supports(p, f):
                rows = veil_ops.op_rows(T.OPS[op], cfg, sizes, a.repeat, not a.no_memory)
                _append(raw, rows)
                veil_rows += rows
    if not a.no_exp:
        print(f"veil: exp benchmark (SEMI2K FM128), network levels {levels} via the link shaper")
        methods = [m for m in a.exp_methods.split(",") if m]
        exp_rows = exp_bench.run(
            methods, _ints(a.exp_sizes), levels, a.repeat, mem_sizes=_ints(a.exp_mem_sizes) or None
        )
        _append(raw, exp_rows)
    return veil_rows, exp_rows


def _append(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("a", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")


def _spu(a: Any, ops: list[str], configs: list[str]) -> tuple[list[dict[str, Any]], str | None]:
    """SPU rows from --spu-jsonl or a fresh run (--with-spu); (rows, note for the report)."""
    from veil.bench import spu_side

    if a.spu_jsonl:
        rows = spu_side.read_rows(Path(a.spu_jsonl))
        return rows, f"SPU rows read from {a.spu_jsonl}"
    if not a.with_spu:
        return [], "SPU not run (pass --with-spu)"
    print(f"SPU 0.9.5: same ops at n = {a.n} in .spu-venv (this takes a while)")
    rows, reason = spu_side.run_spu(ops, configs, a.n, a.repeat, not a.no_exp, _ints(a.exp_sizes))
    if reason is not None:
        print(f"SPU side skipped: {reason}")
        return rows, f"SPU side skipped: {reason}"
    bad = [r for r in rows if "error" in r]
    for r in bad:
        print(f"  SPU {r.get('op')} {r.get('config')}: {r['error'][:200]}")
    return rows, None


def _spu_exp_rows(spu_rows: list[dict[str, Any]], levels: list[str], exp_bench: Any) -> list[dict[str, Any]]:
    """SPU's exp benchmark rows, with its time at each level modelled (its link cannot be shaped)."""
    out = []
    for r in spu_rows:
        if r.get("kind") == "exp_bench" and "error" not in r:
            r = dict(r)
            r["network"] = exp_bench.spu_network_model(r, levels)
            out.append(r)
    return out


def _markdown(
    a: Any,
    compare: list[dict[str, Any]],
    veil_rows: list[dict[str, Any]],
    exp_rows: list[dict[str, Any]],
    spu_note: str | None,
    levels: list[str],
    sizes: list[int],
    elapsed: float,
    report: Any,
) -> str:
    lines = [
        "# Operator benchmark: veil vs SecretFlow SPU 0.9.5",
        "",
        f"Generated by `veil bench ops {' '.join(_argv_echo(a))}` on {time.strftime('%Y-%m-%d %H:%M')}, "
        f"{os.cpu_count()} CPU cores, Python {platform.python_version()}, in {elapsed:.0f} s.",
        "",
        "Both sides run every party as a thread of one process over an in-memory link, on the same "
        "machine (in the same run with --with-spu; see the note below when rows were reused), with the same inputs (evenly spaced over (-5, 5) or (0.1, 10)). "
        "Bytes are online bytes sent (party 0, and all parties); rounds are party 0's send actions "
        "for SPU and the link's message depth for veil; run s = median of the timed runs, compile "
        "excluded; errors are against numpy float64. veil's offline (dealer) bytes are listed apart: "
        "SPU's simulator reports online traffic only. Cells read `veil / SPU (veil ÷ SPU)`; lower is better.",
        "",
    ]
    if spu_note:
        lines += [f"**{spu_note}.**", ""]
    lines += [f"## Comparison at n = {a.n} (matmul: 256×256×256, bytes per call)", ""]
    lines += report.comparison_markdown(compare) + [""]
    lines += [
        f"## veil: time and memory models y = a·n + b (n = {sizes}; memory = tracemalloc peak of one call, all parties)",
        "",
    ]
    lines += report.veil_models_markdown(veil_rows) + [""]
    if exp_rows:
        lines += [
            "## exp benchmark (SEMI2K FM128)",
            "",
            "Range score: 10,000 points on [-40, 40], mean of the six fractions. Error on [-20, 20]. "
            "veil's times at the four network levels are measured with the in-memory link's shaper "
            "(veil/link/shaper.py: one-way latency per message plus per-direction bandwidth), not a real "
            "network. SPU's link cannot be shaped: its times (marked *) are modelled as its measured "
            "local run time + rounds × latency + party-0 bytes ÷ bandwidth.",
            "",
        ]
        lines += report.exp_markdown(exp_rows, levels) + [""]
    return "\n".join(lines)


def _argv_echo(a: Any) -> list[str]:
    out = [f"--n {a.n}"]
    if a.sizes:
        out.append(f"--sizes {a.sizes}")
    if a.with_spu:
        out.append("--with-spu")
    for flag, value in (("--protocols", a.protocols), ("--fields", a.fields), ("--repeat", a.repeat)):
        out.append(f"{flag} {value}")
    if getattr(a, "exp_mem_sizes", ""):
        out.append(f"--exp-mem-sizes {a.exp_mem_sizes}")
    for flag, value in (("--veil-jsonl", a.veil_jsonl), ("--spu-jsonl", a.spu_jsonl)):
        if value:
            out.append(f"{flag} {value}")
    return out
