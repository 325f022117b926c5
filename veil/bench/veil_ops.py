"""veil side of the operator benchmark: costs, time, memory and error of each op under veil.jit.

Every party runs as a thread of this process over the in-memory link (veil.jit's simulator), as
SPU's simulator does. Bytes and rounds come from the link's own accounting (`f.stats`).
Peak memory is tracemalloc's peak during one call (all parties together, numpy buffers included).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from veil.bench import ops_table as T
from veil.config import ApproxConfig, RuntimeConfig

_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Measure:
    """One run of one op at one size."""

    party0_bytes: int
    online_bytes: int
    offline_bytes: int
    rounds: int
    compile_s: float
    run_s: float
    max_abs_err: float
    mean_abs_err: float
    peak_mem: int | None


def runtime_config(cfg_name: str, exp_mode: str | None = None) -> RuntimeConfig:
    """veil's RuntimeConfig for a named (protocol, field, parties) configuration."""
    protocol, field, world = T.CONFIGS[cfg_name]
    approx = ApproxConfig(exp=exp_mode) if exp_mode else ApproxConfig()  # type: ignore[arg-type]
    return RuntimeConfig(protocol=protocol, field=field, world_size=world, approx=approx)


def make_jit(spec: T.OpSpec, cfg_name: str, shaper: Any = None) -> Any:
    """The op compiled with veil.jit for this configuration (and optional network shaper)."""
    from veil.device.jit import jit

    return jit(spec.fn, config=runtime_config(cfg_name, spec.exp_mode), shaper=shaper)


def measure(spec: T.OpSpec, cfg_name: str, n: int, repeat: int, memory: bool) -> Measure:
    """First call compiles (and sets the costs); then `repeat` timed calls; then one traced for memory."""
    f = make_jit(spec, cfg_name)
    args = T.make_inputs(spec, n)
    out = f(*args)
    stats = f.stats
    max_err, mean_err = T.abs_errors(out, spec, args)
    times = []
    for _ in range(repeat):
        f(*args)
        times.append(f.stats.wall_s)
    peak = _peak_memory(f, args) if memory else None
    return Measure(
        party0_bytes=stats.party0_bytes,
        online_bytes=stats.online_bytes,
        offline_bytes=stats.offline_bytes,
        rounds=stats.rounds,
        compile_s=stats.compile_s,
        run_s=statistics.median(times) if times else stats.wall_s,
        max_abs_err=max_err,
        mean_abs_err=mean_err,
        peak_mem=peak,
    )


def _peak_memory(f: Any, args: tuple[np.ndarray, ...]) -> int:
    """Bytes allocated at the peak of one call, above what was live before it (tracemalloc)."""
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        f(*args)
        _, peak = tracemalloc.get_traced_memory()
        return max(0, peak - before)
    finally:
        if started:
            tracemalloc.stop()


def fit_line(ns: Iterable[float], ys: Iterable[float]) -> tuple[float, float]:
    """Least-squares (a, b) of y = a*n + b (b = y for a single point)."""
    x = np.asarray(list(ns), dtype=np.float64)
    y = np.asarray(list(ys), dtype=np.float64)
    if x.size == 0:
        return float("nan"), float("nan")
    if x.size == 1 or np.ptp(x) == 0:
        return 0.0, float(y.mean())
    a, b = np.polyfit(x, y, 1)
    return float(a), float(b)


def measure_rows(
    spec: T.OpSpec, cfg_name: str, sizes: list[int], repeat: int, memory: bool, log: Any = print
) -> list[dict[str, Any]]:
    """One row per size for this op/config (in this process; sizes ascending, stops at a failure)."""
    rows: list[dict[str, Any]] = []
    for n in sizes if not spec.per_call else sizes[-1:]:
        try:
            m = measure(spec, cfg_name, n, repeat, memory)
        except Exception as e:  # noqa: BLE001 - one failing op must not stop the table
            log(f"  veil {spec.name} {cfg_name} n={n}: FAILED {type(e).__name__}: {str(e)[:200]}")
            rows.append({"side": "veil", "op": spec.name, "config": cfg_name, "n": n, "error": str(e)[:300]})
            break
        elems = T.elements(spec, n)
        rows.append(
            {
                "side": "veil",
                "op": spec.name,
                "config": cfg_name,
                "n": n,
                "elems": elems,
                "per": "call" if spec.per_call else "elem",
                "party0_bytes_per": m.party0_bytes / elems,
                "total_bytes_per": m.online_bytes / elems,
                "offline_bytes_per": m.offline_bytes / elems,
                "rounds": m.rounds,
                "compile_s": m.compile_s,
                "run_s": m.run_s,
                "max_abs_err": m.max_abs_err,
                "mean_abs_err": m.mean_abs_err,
                "peak_mem_bytes": m.peak_mem,
                "max_rss_bytes": _max_rss(),
            }
        )
        log(
            f"  veil {spec.name:<11}{cfg_name:<14}n={n:<8} p0 {m.party0_bytes / elems:9.1f} B/el  "
            f"rounds {m.rounds:4d}  run {m.run_s:7.3f} s  max err {m.max_abs_err:.2e}"
        )
    return rows


def _max_rss() -> int | None:
    """This process's peak resident set size in bytes (Linux reports KiB)."""
    try:
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
    except (ImportError, OSError):
        return None


def op_rows(
    spec: T.OpSpec,
    cfg_name: str,
    sizes: list[int],
    repeat: int,
    memory: bool,
    log: Any = print,
    timeout_s: float = 3600.0,
) -> list[dict[str, Any]]:
    """measure_rows in a fresh subprocess (isolates memory: a big op cannot take the run down;
    max RSS is per op), plus fitted time and memory models y = a*n + b in every row."""
    spec_json = json.dumps(
        {"op": spec.name, "config": cfg_name, "sizes": sizes, "repeat": repeat, "memory": memory}
    )
    cmd = [sys.executable, "-m", "veil.bench.worker", spec_json]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(_ROOT), os.environ.get("PYTHONPATH", "")]))
    rows: list[dict[str, Any]] = []
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=env)
        reason = f"worker exited with {proc.returncode}" + (
            " (killed: out of memory?)" if proc.returncode < 0 else ""
        )
        for line in proc.stdout.splitlines():
            if line.startswith("ROW "):
                rows.append(json.loads(line[4:]))
            else:
                log(line)
    except subprocess.TimeoutExpired:
        proc, reason = None, f"worker took longer than {timeout_s:.0f} s"
    if proc is None or (proc.returncode != 0 and not rows):
        tail = proc.stderr.strip().splitlines()[-1:] if proc is not None and proc.stderr else []
        log(f"  veil {spec.name} {cfg_name}: FAILED {reason} {' '.join(tail)[:200]}")
        rows.append({"side": "veil", "op": spec.name, "config": cfg_name, "n": sizes[-1], "error": reason})
    ok = [r for r in rows if "error" not in r]
    if ok:
        ta, tb = fit_line([r["elems"] for r in ok], [r["run_s"] for r in ok])
        mems = [r for r in ok if r["peak_mem_bytes"] is not None]
        ma, mb = fit_line([r["elems"] for r in mems], [r["peak_mem_bytes"] for r in mems])
        for r in ok:
            r.update({"time_a": ta, "time_b": tb, "mem_a": ma, "mem_b": mb})
    return rows


def veil_ready() -> str | None:
    """None when veil.jit runs a secret multiply; otherwise why not (the stack may be unfinished)."""
    try:
        from veil.device.jit import jit

        got = jit(lambda x: x * x)(np.ones(3))
        if not np.allclose(got, 1.0, atol=1e-3):
            return f"veil.jit(x*x) returned {got}"
        return None
    except Exception as e:  # noqa: BLE001 - reported to the user, not swallowed
        return f"{type(e).__name__}: {e}"


def timed(fn: Any) -> tuple[Any, float]:
    """(fn(), seconds)."""
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start
