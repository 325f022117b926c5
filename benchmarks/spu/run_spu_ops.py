"""SecretFlow SPU 0.9.5 side of the operator benchmark (run with .spu-venv/bin/python).

    .spu-venv/bin/python benchmarks/spu/run_spu_ops.py [--n 100000] [--ops mul,exp]
        [--configs semi2k_fm64,semi2k_fm128,aby3_fm64] [--repeat 3] [--exp-bench] [--out FILE]

Runs every op of veil/bench/ops_table.py (loaded by path: same inputs as the veil side) in the
threaded simulator of spu_common.py (built like `spu.utils.simulation.Simulator`, but compiling
once and choosing which ranks profile). Costs come from SPU's own profile log ("Link details:
total send bytes X, recv bytes Y, send actions A, ...", one line per profiled rank):
  * party 0: a run with only rank 0 profiled (bytes sent, send actions = rounds, MPC kernels);
  * total: a run with every rank profiled (sum of bytes over ranks, max of send actions);
  * time: median of `--repeat` unprofiled runs (threads start .. join, compile excluded).
Writes one JSON object per line (to --out, or stdout).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("veil_ops_table", ROOT / "veil" / "bench" / "ops_table.py")
T = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
sys.modules["veil_ops_table"] = T
_spec.loader.exec_module(T)  # type: ignore[union-attr]

import spu.api as spu_api  # noqa: E402
import spu.libspu as libspu  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from spu_common import (  # noqa: E402
    Captured,
    compile_fn,
    make_config,
    measure,
    parse_link,
    parse_mpc_kernels,
    run_once,
)


def bench_op(spec, cfg_name: str, n: int, repeat: int) -> dict:  # type: ignore[no-untyped-def]
    """Costs, run time and error of one op under one (protocol, field) configuration."""
    protocol, field, world = T.CONFIGS[cfg_name]
    cfg = make_config(protocol, field, spec.exp_mode)
    args = T.make_inputs(spec, n)
    executable, compile_s, _ = compile_fn(spec.fn, args, world)
    revealed, times, p0, everyone, log0 = measure(cfg, world, executable, args, repeat)
    max_err, mean_err = T.abs_errors(revealed[0], spec, args)
    elems = T.elements(spec, n)
    return {
        "side": "spu",
        "op": spec.name,
        "config": cfg_name,
        "n": n,
        "elems": elems,
        "per": "call" if spec.per_call else "elem",
        "party0_bytes": p0[0][0],
        "total_bytes": sum(b for b, _ in everyone),
        "party0_bytes_per": p0[0][0] / elems,
        "total_bytes_per": sum(b for b, _ in everyone) / elems,
        "rounds": p0[0][1],
        "max_rounds": max(a for _, a in everyone),
        "compile_s": compile_s,
        "run_s": statistics.median(times),
        "max_abs_err": max_err,
        "mean_abs_err": mean_err,
        "kernels_party0": parse_mpc_kernels(log0),
    }


def _exp_run(method: str, x: np.ndarray) -> tuple[np.ndarray, float, int, int]:
    """exp(x) on SEMI2K FM128 with `method`: (result, run seconds, party-0 bytes, rounds)."""
    cfg = make_config("semi2k", "FM128", method)
    spec = T.OPS["exp"]
    executable, _, _ = compile_fn(spec.fn, (x,), 2)
    io = spu_api.Io(2, cfg)
    shares = [io.make_shares(x, libspu.Visibility.VIS_SECRET)]
    with Captured() as cap:
        outs, _ = run_once(cfg, 2, executable, shares, {0})
    with Captured():
        _, secs = run_once(cfg, 2, executable, shares, set())
    link = parse_link(cap.text)
    return io.reconstruct([outs[r][0] for r in range(2)]), secs, link[0][0], link[0][1]


def exp_bench(sizes: list[int]) -> list[dict]:
    """The exp benchmark on SEMI2K FM128: bytes, rounds, range score, error, run time vs n."""
    rows = []
    wide = np.linspace(-40.0, 40.0, T.RANGE_POINTS)
    narrow = np.linspace(-20.0, 20.0, T.RANGE_POINTS)
    for method in T.EXP_METHODS:
        got_wide, _, nbytes, rounds = _exp_run(method, wide)
        got_narrow, _, _, _ = _exp_run(method, narrow)
        times = {}
        for n in sizes:
            _, secs, _, _ = _exp_run(method, T.spread(-5.0, 5.0, n))
            times[n] = secs
        row = {"side": "spu", "kind": "exp_bench", "method": method, "config": "semi2k_fm128"}
        row.update({"party0_bytes_per": nbytes / T.RANGE_POINTS, "rounds": rounds, "run_s": times})
        row.update(T.range_score(got_wide, np.exp(wide)))
        row.update(T.error_stats(got_narrow, np.exp(narrow)))
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--ops", default=",".join(T.OPS))
    p.add_argument("--configs", default=",".join(T.CONFIGS))
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--exp-bench", action="store_true", help="also run the six-dimension exp benchmark")
    p.add_argument("--exp-sizes", default="10000,100000")
    p.add_argument("--out", default="-")
    a = p.parse_args(argv)
    out = sys.stdout if a.out == "-" else open(a.out, "a", encoding="utf-8")  # noqa: SIM115

    def emit(row: dict) -> None:
        out.write(json.dumps(row) + "\n")
        out.flush()

    for op in [s for s in a.ops.split(",") if s]:
        if op not in T.OPS:
            raise SystemExit(f"unknown op {op!r}; choose from {','.join(T.OPS)}")
        spec = T.OPS[op]
        for cfg_name in [c for c in a.configs.split(",") if c]:
            protocol, field, _ = T.CONFIGS[cfg_name]
            if not spec.supports(protocol, field):
                continue
            try:
                emit(bench_op(spec, cfg_name, a.n, a.repeat))
            except Exception as e:  # noqa: BLE001 - one failing op must not stop the table
                emit({"side": "spu", "op": op, "config": cfg_name, "error": f"{type(e).__name__}: {e}"})
    if a.exp_bench:
        for row in exp_bench([int(s) for s in a.exp_sizes.split(",") if s]):
            emit(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
