"""LR and MLP jobs on real party processes (device API, local mode) vs the in-process simulation.

    .venv/bin/python benchmarks/bench_runtime.py [--jobs lr,mlp] [--mlp-epochs 1] [--no-shaped]
        [--transports tcp,grpc] [--with-spu] [--repeat 3] [--out FILE]

For each job: `veil.jit` (every party a thread, memory link) and the device API with one node
process per party (alice, bob and the semi2k dealer) on each party-link transport (`tcp`: veil's
TcpLink, the default; `grpc`: GrpcLink), on a plain loopback link and with the link shaper at
100 Mbit/s + 10 ms one way (`100mbit_10ms`). For the processes, both input modes: PRIVATE (each
data owner's columns stay at its node until the concatenation shares them; the default) and
all-secret (`keep_private=False`, as veil.jit and SPU do).
compile = first call's trace+compile (s); run = median of --repeat further calls (the compiled
program is cached), wall time seen by the driver. Bytes are payload bytes summed over the parties.

--with-spu also runs SecretFlow SPU 0.9.5 with one process per party over loopback brpc
(benchmarks/spu/run_spu_procs.py in .spu-venv; `bash benchmarks/spu/setup_venv.sh` makes it),
same jobs, all inputs secret, on the same machine in the same session. The machine is shared:
wall times are noisy; bytes and rounds are exact.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))
sys.path.insert(0, str(ROOT))

import logit_regression as lr  # noqa: E402
import mlp_breast_cancer as mlp  # noqa: E402

import veil  # noqa: E402
from veil.device.api import Session  # noqa: E402
from veil.device.cluster import cluster_def  # noqa: E402
from veil.device.objects import reveal  # noqa: E402
from veil.device.pyu import PYU  # noqa: E402
from veil.device.spu import SPU  # noqa: E402
from veil.link.shaper import Shaper  # noqa: E402

SPU_PYTHON = ROOT / ".spu-venv" / "bin" / "python"


def jobs(mlp_epochs: int) -> dict[str, dict[str, Any]]:
    x1, x2, y, *_ = lr.load_breast_cancer_vertical()
    return {
        "lr": {
            "fn": lr.train, "static": ["n_epochs"], "kw": {"n_epochs": 10}, "label": "LR 10 epochs",
            "alice": (x1,), "bob": (x2, y),
        },
        "mlp": {
            "fn": mlp.train_auto_grad, "static": ["n_batch", "n_epochs"], "kw": {"n_epochs": mlp_epochs},
            "label": f"MLP {mlp_epochs} epoch{'s' if mlp_epochs > 1 else ''}",
            "alice": (x1,), "bob": (x2, y.reshape(-1, 1)), "alice_after": (mlp.init_params(),),
        },
    }  # fmt: skip


def _args(job: dict[str, Any]) -> tuple[Any, ...]:
    return (*job["alice"], *job["bob"], *job.get("alice_after", ()))


def run_sim(job: dict[str, Any], shaper: str | None, repeat: int) -> dict[str, Any]:
    f = veil.jit(
        job["fn"],
        protocol="semi2k",
        static_argnames=job["static"],
        shaper=Shaper.preset(shaper) if shaper else None,
    )
    t = time.perf_counter()
    f(*_args(job), **job["kw"])
    compile_s = f.stats.compile_s
    first = time.perf_counter() - t
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = f(*_args(job), **job["kw"])
        times.append(time.perf_counter() - t)
    return {
        "compile_s": compile_s,
        "first_s": first,
        "run_s": statistics.median(times),
        "stats": f.stats,
        "out": out,
    }


def run_procs(
    job: dict[str, Any], shaper: str | None, keep_private: bool, transport: str, repeat: int
) -> dict[str, Any]:
    session = Session(["alice", "bob"], progress=False)
    try:
        t = time.perf_counter()
        cluster = cluster_def(
            ["alice", "bob"], protocol="semi2k", shaper=shaper, timeouts={"link_s": 600}, transport=transport
        )
        spu = SPU(
            cluster,
            session=session,
            keep_private=keep_private,
        )
        startup = time.perf_counter() - t
        alice, bob = PYU("alice", session), PYU("bob", session)
        a = [alice(lambda v=v: v)() for v in job["alice"]]
        b = [bob(lambda v=v: v)() for v in job["bob"]]
        a2 = [alice(lambda v=v: v)() for v in job.get("alice_after", ())]
        fn = spu(job["fn"], static_argnames=job["static"])
        t = time.perf_counter()
        fn(*a, *b, *a2, **job["kw"])
        first, compile_s = time.perf_counter() - t, spu.stats.compile_s
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            res = fn(*a, *b, *a2, **job["kw"])
            times.append(time.perf_counter() - t)
        run_s = statistics.median(times)
        out = reveal(res)
        return {
            "compile_s": compile_s, "first_s": first, "run_s": run_s, "stats": spu.stats,
            "out": out, "startup_s": startup, "second_compile_s": spu.stats.compile_s,
        }  # fmt: skip
    finally:
        session.shutdown()


def run_spu_procs(jobs: list[str], mlp_epochs: int, repeat: int) -> dict[str, dict[str, Any]]:
    """SPU 0.9.5, one process per party over loopback brpc (benchmarks/spu/run_spu_procs.py)."""
    with tempfile.NamedTemporaryFile(suffix=".jsonl") as tmp:
        cmd = [
            str(SPU_PYTHON), str(ROOT / "benchmarks" / "spu" / "run_spu_procs.py"), "--jobs", ",".join(jobs),
            "--mlp-epochs", str(mlp_epochs), "--repeat", str(repeat), "--out", tmp.name,
        ]  # fmt: skip
        subprocess.run(cmd, check=True, cwd=ROOT)
        rows = [json.loads(line) for line in Path(tmp.name).read_text().splitlines() if line.strip()]
    return {r["job"]: r for r in rows}


def _max_diff(a: Any, b: Any) -> float:
    import jax

    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    return max(float(np.max(np.abs(np.asarray(x) - np.asarray(y)))) for x, y in zip(la, lb))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", default="lr,mlp")
    ap.add_argument("--mlp-epochs", type=int, default=1)
    ap.add_argument("--no-shaped", action="store_true", help="skip the 100 Mbit / 10 ms runs")
    ap.add_argument("--no-secret-procs", action="store_true", help="skip the all-secret process runs")
    ap.add_argument("--transports", default="tcp,grpc", help="party-link transports for the processes")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs after the first (median)")
    ap.add_argument("--with-spu", action="store_true", help="also run SPU 0.9.5 processes (.spu-venv)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "runtime.md"))
    args = ap.parse_args()
    spu_rows: dict[str, dict[str, Any]] = {}
    if args.with_spu:
        if not SPU_PYTHON.exists():
            raise SystemExit(f"--with-spu: {SPU_PYTHON} is missing; run `bash benchmarks/spu/setup_venv.sh`")
        spu_rows = run_spu_procs(args.jobs.split(","), args.mlp_epochs, args.repeat)
    table = jobs(args.mlp_epochs)
    links = [None] if args.no_shaped else [None, "100mbit_10ms"]
    head = f"{'job':<14}{'runtime':<38}{'link':<14}{'compile s':>10}{'run s':>9}{'online MB':>11}{'offline MB':>11}{'rounds':>8}  note"
    lines = [head, "-" * len(head)]

    def row(
        name: str,
        runtime: str,
        link: str,
        compile_s: Any,
        run_s: float,
        on: float,
        off: Any,
        rounds: Any,
        note: str = "",
    ) -> None:
        c = f"{compile_s:>10.2f}" if isinstance(compile_s, float) else f"{compile_s:>10}"
        o = f"{off:>11.2f}" if isinstance(off, float) else f"{off:>11}"
        line = f"{name:<14}{runtime:<38}{link:<14}{c}{run_s:>9.3f}{on:>11.2f}{o}{rounds!s:>8}  {note}"
        lines.append(line)
        print(line, flush=True)

    print(head, flush=True)
    for key in args.jobs.split(","):
        job = table[key]
        for link in links:
            lname = link or "loopback"
            sim = run_sim(job, link, args.repeat)
            s = sim["stats"]
            row(
                job["label"],
                "veil.jit simulation (threads)",
                lname,
                sim["compile_s"],
                sim["run_s"],
                s.online_bytes / 1e6,
                s.offline_bytes / 1e6,
                s.rounds,
            )
            modes = [True] if args.no_secret_procs else [True, False]
            for transport, keep in itertools.product(args.transports.split(","), modes):
                p = run_procs(job, link, keep, transport, args.repeat)
                s = p["stats"]
                note = f"max|diff| vs sim {_max_diff(p['out'], sim['out']):.1e}; 2nd-call compile {p['second_compile_s']:.3f} s; nodes up in {p['startup_s']:.1f} s"
                rt = f"processes {transport}, " + ("private inputs" if keep else "all secret")
                row(
                    job["label"],
                    rt,
                    lname,
                    p["compile_s"],
                    p["run_s"],
                    s.online_bytes / 1e6,
                    s.offline_bytes / 1e6,
                    s.rounds,
                    note,
                )
        spu = spu_rows.get(key)
        if spu is not None:
            quality = f"AUC {spu['auc']:.4f} (plaintext {spu['auc_plain']:.4f})" if "auc" in spu else ""
            row(job["label"], "SPU 0.9.5 processes, all secret", "loopback brpc", spu["compile_s"], spu["run_s"], spu["total_bytes"] / 1e6, "-", spu["rounds"], f"measured here; runs {[round(t, 3) for t in spu['run_s_all']]}; {quality}")  # fmt: skip
    out = Path(args.out)
    out.parent.mkdir(exist_ok=True)
    cmd = "benchmarks/bench_runtime.py " + " ".join(sys.argv[1:])
    stamp = time.strftime("%Y-%m-%d %H:%M")
    out.write_text(f"Generated by `{cmd}` on {stamp}.\n\n```\n" + "\n".join(lines) + "\n```\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
