"""SecretFlow SPU 0.9.5 side of the operator benchmark (run with .spu-venv/bin/python).

    .spu-venv/bin/python benchmarks/spu/run_spu_ops.py [--n 100000] [--ops mul,exp]
        [--configs semi2k_fm64,semi2k_fm128,aby3_fm64] [--repeat 3] [--exp-bench] [--out FILE]

Runs every op of veil/bench/ops_table.py (loaded by path: same inputs as the veil side) in a
threaded simulator built like `spu.utils.simulation.Simulator`, but compiling once and choosing
which ranks profile. Costs come from SPU's own profile log ("Link details: total send bytes X,
recv bytes Y, send actions A, ...", one line per profiled rank, printed by the C++ runtime):
  * party 0: a run with only rank 0 profiled (bytes sent, send actions = rounds, MPC kernels);
  * total: a run with every rank profiled (sum of bytes over ranks, max of send actions);
  * time: median of `--repeat` unprofiled runs (threads start .. join, compile excluded).
Writes one JSON object per line (to --out, or stdout).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("veil_ops_table", ROOT / "veil" / "bench" / "ops_table.py")
T = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
sys.modules["veil_ops_table"] = T
_spec.loader.exec_module(T)  # type: ignore[union-attr]

import spu.api as spu_api  # noqa: E402
import spu.libspu as libspu  # noqa: E402
import spu.utils.frontend as spu_fe  # noqa: E402

LINK_RE = re.compile(r"Link details: total send bytes (\d+), recv bytes (\d+), send actions (\d+)")
KERNEL_RE = re.compile(
    r"- (\w+), executed (\d+) times, duration ([\d.e+-]+)s, send bytes (\d+) .*?send actions (\d+)"
)
MPC_RE = re.compile(r"MPC profiling")

PROTOCOLS = {"semi2k": libspu.ProtocolKind.SEMI2K, "aby3": libspu.ProtocolKind.ABY3}
FIELDS = {"FM64": libspu.FieldType.FM64, "FM128": libspu.FieldType.FM128}
EXP_MODES = {
    "taylor": libspu.RuntimeConfig.ExpMode.EXP_TAYLOR,
    "pade": libspu.RuntimeConfig.ExpMode.EXP_PADE,
    "prime": libspu.RuntimeConfig.ExpMode.EXP_PRIME,
}


def make_config(protocol: str, field: str, exp_mode: str | None) -> libspu.RuntimeConfig:
    """SPU's defaults for the protocol/field, with the requested exp method."""
    cfg = libspu.RuntimeConfig(protocol=PROTOCOLS[protocol], field=FIELDS[field])
    if exp_mode is not None:
        cfg.fxp_exp_mode = EXP_MODES[exp_mode]
        if exp_mode == "prime":
            cfg.experimental_enable_exp_prime = True
    return cfg


class Captured:
    """Redirect the process's fd 1 and 2 (where SPU's C++ logger writes) into a temp file."""

    def __enter__(self) -> Captured:
        sys.stdout.flush()
        sys.stderr.flush()
        self._file = tempfile.TemporaryFile(mode="w+b")
        self._saved = [os.dup(1), os.dup(2)]
        os.dup2(self._file.fileno(), 1)
        os.dup2(self._file.fileno(), 2)
        self.text = ""
        return self

    def __exit__(self, *exc: object) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(self._saved[0], 1)
        os.dup2(self._saved[1], 2)
        for fd in self._saved:
            os.close(fd)
        self._file.seek(0)
        self.text = self._file.read().decode("utf-8", "replace")
        self._file.close()


def compile_fn(fn, args, world: int):  # type: ignore[no-untyped-def]
    """SPU-compile fn for secret inputs of these shapes; returns (executable, seconds)."""
    start = time.perf_counter()
    names = [f"in{i}" for i in range(len(args))]
    executable, _ = spu_fe.compile(
        spu_fe.Kind.JAX,
        fn,
        args,
        {},
        names,
        [libspu.Visibility.VIS_SECRET] * len(args),
        lambda outs: [f"out{i}" for i in range(len(outs))],
        static_argnums=(),
        copts=libspu.CompilerOptions(),
    )
    return executable, time.perf_counter() - start


def run_once(cfg, world: int, executable, shares, profiled: set[int]):  # type: ignore[no-untyped-def]
    """One execution on `world` threads over SPU's in-memory link; returns (outputs, seconds)."""
    desc = libspu.link.Desc()
    for rank in range(world):
        desc.add_party(f"id_{rank}", f"thread_{rank}")
    results: list[object] = [None] * world
    errors: list[BaseException] = []

    def party(rank: int) -> None:
        try:
            lctx = libspu.link.create_mem(desc, rank)
            rc = libspu.RuntimeConfig(cfg)
            on = rank in profiled
            rc.enable_pphlo_profile = on
            rc.enable_hal_profile = on
            rt = spu_api.Runtime(lctx, rc)
            for idx, share in enumerate(shares):
                rt.set_var(executable.input_names[idx], share[rank])
            rt.run(executable)
            results[rank] = [rt.get_var(name) for name in executable.output_names]
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(e)

    threads = [threading.Thread(target=party, args=(r,)) for r in range(world)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    if errors:
        raise errors[0]
    return results, seconds


def parse_link(text: str) -> list[tuple[int, int]]:
    """(bytes sent, send actions) of every profiled rank, from SPU's 'Link details' lines."""
    return [(int(m.group(1)), int(m.group(3))) for m in LINK_RE.finditer(text)]


def parse_mpc_kernels(text: str) -> dict[str, list[int]]:
    """Party 0's MPC kernel table: name -> [calls, bytes sent, send actions]."""
    section = text.split("MPC profiling", 1)
    if len(section) < 2:
        return {}
    body = section[1].split("Link details", 1)[0]
    return {m.group(1): [int(m.group(2)), int(m.group(4)), int(m.group(5))] for m in KERNEL_RE.finditer(body)}


def bench_op(spec, cfg_name: str, n: int, repeat: int) -> dict:  # type: ignore[no-untyped-def]
    """Costs, run time and error of one op under one (protocol, field) configuration."""
    protocol, field, world = T.CONFIGS[cfg_name]
    cfg = make_config(protocol, field, spec.exp_mode)
    args = T.make_inputs(spec, n)
    executable, compile_s = compile_fn(spec.fn, args, world)
    io = spu_api.Io(world, cfg)
    shares = [io.make_shares(np.asarray(a), libspu.Visibility.VIS_SECRET) for a in args]
    with Captured() as cap0:
        outs, _ = run_once(cfg, world, executable, shares, {0})
    with Captured() as cap_all:
        run_once(cfg, world, executable, shares, set(range(world)))
    times = []
    for _ in range(repeat):
        with Captured():
            _, secs = run_once(cfg, world, executable, shares, set())
        times.append(secs)
    got = io.reconstruct([outs[r][0] for r in range(world)])
    max_err, mean_err = T.abs_errors(got, spec, args)
    p0 = parse_link(cap0.text)
    everyone = parse_link(cap_all.text)
    elems = T.elements(spec, n)
    if not p0 or len(everyone) != world:
        raise RuntimeError(
            f"{spec.name}/{cfg_name}: SPU profile lines not found ({len(p0)}, {len(everyone)})"
        )
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
        "kernels_party0": parse_mpc_kernels(cap0.text),
    }


def _exp_run(method: str, x: np.ndarray) -> tuple[np.ndarray, float, int, int]:
    """exp(x) on SEMI2K FM128 with `method`: (result, run seconds, party-0 bytes, rounds)."""
    cfg = make_config("semi2k", "FM128", method)
    spec = T.OPS["exp"]
    executable, _ = compile_fn(spec.fn, (x,), 2)
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
