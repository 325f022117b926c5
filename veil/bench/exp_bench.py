"""The six-dimension exp benchmark (SEMI2K, FM128) for veil's Taylor, Pade and "prime" exp.

Dimensions: online bytes per element, rounds, memory (y = a*n + b, tracemalloc peak of a call),
valid range (10,000 points on [-40, 40]: fractions with rel err < 5%, 1%, 0.05% and abs err
< 5, 1, 0.05, and their mean), error on [-20, 20] (MSE, MAE, MAPE), and time y = a*n + b at four
network levels. The network is modelled by the in-memory link's shaper (veil/link/shaper.py:
one-way latency per message plus bandwidth per direction), not by a real network.
"""

from __future__ import annotations

import statistics
from typing import Any

import numpy as np

from veil.bench import ops_table as T
from veil.bench.veil_ops import _peak_memory, fit_line, runtime_config
from veil.link.shaper import PRESETS, Shaper

CONFIG = "semi2k_fm128"
MEM_BUDGET = 16 << 30  # skip a memory point whose fitted peak would exceed this (24 GiB machine)


def _jit(method: str, shaper: Shaper | None = None) -> Any:
    from veil.device.jit import jit

    return jit(T.OPS["exp"].fn, config=runtime_config(CONFIG, method), shaper=shaper)


def _network_times(method: str, sizes: list[int], levels: list[str], repeat: int) -> dict[str, Any]:
    """Run time (median of `repeat`) at each size and shaped network level, with fitted (a, b)."""
    out: dict[str, Any] = {}
    for level in levels:
        shaper = Shaper.preset(level)
        f = _jit(method, shaper)
        times = []
        for n in sizes:
            x = T.spread(-5.0, 5.0, n)
            runs = []
            for _ in range(max(1, repeat)):
                shaper.reset()
                f(x)
                runs.append(f.stats.wall_s)
            times.append(statistics.median(runs))
        a, b = fit_line(sizes, times)
        out[level] = {"sizes": list(sizes), "times": times, "a": a, "b": b}
    return out


def memory_points(method: str, sizes: list[int], budget: int = MEM_BUDGET) -> tuple[list[int], list[int]]:
    """tracemalloc peaks of one call at each size (ascending); a size whose peak, extrapolated
    from the sizes measured before it, would exceed `budget` is skipped with the larger ones."""
    f = _jit(method)
    done: list[int] = []
    mems: list[int] = []
    for n in sorted(sizes):
        if len(done) >= 2:
            a, b = fit_line(done, mems)
            if a * n + b > budget:
                break
        mems.append(_peak_memory(f, (T.spread(-5.0, 5.0, n),)))
        done.append(n)
    return done, mems


def method_row(
    method: str, sizes: list[int], levels: list[str], repeat: int, mem_sizes: list[int] | None = None
) -> dict[str, Any]:
    """All six dimensions of one exp method under veil (memory over `mem_sizes`, default `sizes`)."""
    wide = np.linspace(-40.0, 40.0, T.RANGE_POINTS)
    narrow = np.linspace(-20.0, 20.0, T.RANGE_POINTS)
    f = _jit(method)
    got_wide = np.asarray(f(wide), dtype=np.float64)
    stats = f.stats
    got_narrow = np.asarray(f(narrow), dtype=np.float64)
    mem_n, mems = memory_points(method, mem_sizes or sizes)
    ma, mb = fit_line(mem_n, mems)
    row: dict[str, Any] = {
        "side": "veil",
        "kind": "exp_bench",
        "method": method,
        "config": CONFIG,
        "party0_bytes_per": stats.party0_bytes / T.RANGE_POINTS,
        "total_bytes_per": stats.online_bytes / T.RANGE_POINTS,
        "offline_bytes_per": stats.offline_bytes / T.RANGE_POINTS,
        "rounds": stats.rounds,
        "mem_a": ma,
        "mem_b": mb,
        "mem_sizes": mem_n,
        "mem_peaks": mems,
    }
    row.update(T.range_score(got_wide, np.exp(wide)))
    row.update(T.error_stats(got_narrow, np.exp(narrow)))
    row["network"] = _network_times(method, sizes, levels, repeat)
    return row


def spu_network_model(spu_row: dict[str, Any], levels: list[str]) -> dict[str, Any]:
    """SPU's time at each level, estimated: its measured local run time (a*n + b fitted over the
    sizes it ran) plus rounds x latency plus party-0 bytes / bandwidth. SPU's link cannot be shaped."""
    sizes = sorted(int(k) for k in spu_row.get("run_s", {}))
    times = [spu_row["run_s"][str(n)] if str(n) in spu_row["run_s"] else spu_row["run_s"][n] for n in sizes]
    a0, b0 = fit_line(sizes, times)
    out = {}
    for level in levels:
        latency, bandwidth = PRESETS[level]
        per_elem_wire = spu_row["party0_bytes_per"] * 8.0 / bandwidth if bandwidth else 0.0
        out[level] = {"a": a0 + per_elem_wire, "b": b0 + spu_row["rounds"] * latency, "modelled": True}
    return out


def run(
    methods: list[str],
    sizes: list[int],
    levels: list[str],
    repeat: int,
    log: Any = print,
    mem_sizes: list[int] | None = None,
) -> list[dict[str, Any]]:
    """The exp benchmark rows for veil (one per method); a failing method yields an error row."""
    rows = []
    for method in methods:
        try:
            row = method_row(method, sizes, levels, repeat, mem_sizes)
        except Exception as e:  # noqa: BLE001 - reported in the output table
            log(f"  veil exp {method}: FAILED {type(e).__name__}: {str(e)[:200]}")
            rows.append({"side": "veil", "kind": "exp_bench", "method": method, "error": str(e)[:300]})
            continue
        log(
            f"  veil exp {method:<7} {row['party0_bytes_per']:7.1f} B/el  rounds {row['rounds']:3d}  "
            f"range score {row['range_score']:.3f}  MAE {row['mae']:.3g}"
        )
        rows.append(row)
    return rows
