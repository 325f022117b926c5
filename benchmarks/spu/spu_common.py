"""Shared SPU 0.9.5 simulator helpers for the benchmark scripts (run with .spu-venv/bin/python).

Used by run_spu_ops.py (operator table) and run_spu_jobs.py (end-to-end jobs). Builds a threaded
simulator like `spu.utils.simulation.Simulator`, but compiles once and chooses which ranks
profile. Costs come from SPU's own profile log, printed by its C++ runtime to fd 1/2:
  * "Link details: total send bytes X, recv bytes Y, send actions A, ..." (one line per profiled
    rank): bytes sent and send actions (= rounds) of that rank;
  * "MPC profiling" table: per MPC kernel, calls, seconds, send bytes and send actions;
  * "HLO profiling" table: per pphlo op, calls and seconds (and, in 0.9.5, bytes/actions).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
import time
from typing import Any

import spu.api as spu_api
import spu.libspu as libspu
import spu.utils.frontend as spu_fe

LINK_RE = re.compile(r"Link details: total send bytes (\d+), recv bytes (\d+), send actions (\d+)")
KERNEL_RE = re.compile(
    r"- ([\w.]+), executed (\d+) times, duration ([\d.e+-]+)s, send bytes (\d+) .*?send actions (\d+)"
)

PROTOCOLS = {"semi2k": libspu.ProtocolKind.SEMI2K, "aby3": libspu.ProtocolKind.ABY3}
FIELDS = {"FM64": libspu.FieldType.FM64, "FM128": libspu.FieldType.FM128}
EXP_MODES = {
    "taylor": libspu.RuntimeConfig.ExpMode.EXP_TAYLOR,
    "pade": libspu.RuntimeConfig.ExpMode.EXP_PADE,
    "prime": libspu.RuntimeConfig.ExpMode.EXP_PRIME,
}


def make_config(protocol: str, field: str, exp_mode: str | None = None) -> libspu.RuntimeConfig:
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


def compile_fn(fn, args, world: int = 2) -> tuple[Any, float, Any]:  # type: ignore[no-untyped-def]
    """SPU-compile fn for secret inputs shaped like the leaves of `args` (a tuple of pytrees).

    Returns (executable, seconds, output tree of ShapeDtypeStructs). Static arguments must be
    bound beforehand (functools.partial).
    """
    import jax

    start = time.perf_counter()
    n_leaves = len(jax.tree_util.tree_leaves(args))
    names = [f"in{i}" for i in range(n_leaves)]
    executable, output = spu_fe.compile(
        spu_fe.Kind.JAX,
        fn,
        args,
        {},
        names,
        [libspu.Visibility.VIS_SECRET] * n_leaves,
        lambda outs: [f"out{i}" for i in range(len(outs))],
        static_argnums=(),
        copts=libspu.CompilerOptions(),
    )
    return executable, time.perf_counter() - start, output


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


def _table(text: str, header: str) -> dict[str, list[float]]:
    """Rows of one profile table (first occurrence): name -> [calls, bytes sent, send actions, s]."""
    section = text.split(header, 1)
    if len(section) < 2:
        return {}
    body = re.split(r"(?:HLO|HAL|MPC) profiling|Link details", section[1], maxsplit=1)[0]
    return {
        m.group(1): [int(m.group(2)), int(m.group(4)), int(m.group(5)), float(m.group(3))]
        for m in KERNEL_RE.finditer(body)
    }


def parse_mpc_kernels(text: str) -> dict[str, list[int]]:
    """Party 0's MPC kernel table: name -> [calls, bytes sent, send actions]."""
    return {k: [int(v) for v in row[:3]] for k, row in _table(text, "MPC profiling").items()}


def parse_profile(text: str, header: str) -> dict[str, list[float]]:
    """Any profile table ("HLO profiling", "HAL profiling", "MPC profiling") of the first
    profiled rank: name -> [calls, bytes sent, send actions, seconds]."""
    return _table(text, header)


def measure(cfg, world: int, executable, args, repeat: int):  # type: ignore[no-untyped-def]
    """Run a compiled program on secret-shared `args`: (outputs revealed, run times, party 0's
    link lines, every party's link lines, party 0's profile log). One profiled run per view,
    then `repeat` unprofiled timed runs."""
    import numpy as np

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
    revealed = [
        io.reconstruct([outs[r][i] for r in range(world)]) for i in range(len(executable.output_names))
    ]
    p0, everyone = parse_link(cap0.text), parse_link(cap_all.text)
    if not p0 or len(everyone) != world:
        raise RuntimeError(f"SPU profile lines not found ({len(p0)}, {len(everyone)})")
    return revealed, times, p0, everyone, cap0.text


def share_to_blobs(share) -> list[bytes]:  # type: ignore[no-untyped-def]
    """A libspu.Share as plain bytes ([meta, chunk, ...]) for a pipe to a party process."""
    return [bytes(share.meta), *(bytes(c) for c in share.share_chunks)]


def share_from_blobs(blobs: list[bytes]):  # type: ignore[no-untyped-def]
    """Inverse of share_to_blobs."""
    share = libspu.Share()
    share.meta = blobs[0]
    share.share_chunks = list(blobs[1:])
    return share
