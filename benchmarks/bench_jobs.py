"""End-to-end jobs under veil.jit (simulation), next to SPU 0.9.5's numbers from shared/REFERENCE.md.

    .venv/bin/python benchmarks/bench_jobs.py [--jobs lr,lr_aby3,mlp] [--repeat 3]

Compile and run are reported apart; run = median of `--repeat` calls on the compiled program.
SPU's figures were measured on the same kind of machine (2 cores) in its threaded simulator;
compare timings only side by side on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

import logit_regression as lr  # noqa: E402
import mlp_breast_cancer as mlp  # noqa: E402

import veil  # noqa: E402

# SPU 0.9.5 (REFERENCE.md): compile s, run s (threads), MB all parties, rounds
SPU = {
    "lr": (0.14, 0.119, 10.0, 590),
    "lr_aby3": (0.13, 0.134, 8.4, 893),
    "mlp": (22.6, 4.47, 90.1, 26100),
    "mlp_aby3": (22.8, 8.44, 137.4, 39160),
}


def _job(name: str):
    x1, x2, y, t1, t2, ty = lr.load_breast_cancer_vertical()
    xt = np.concatenate([t1, t2], axis=1)
    protocol = "aby3" if name.endswith("aby3") else "semi2k"
    if name.startswith("lr"):
        # SPU's reference job: 10 full-batch GD epochs
        f = veil.jit(lr.train, protocol=protocol, static_argnames="n_epochs")
        args, kwargs = (x1, x2, y), {"n_epochs": 10}

        def auc(out):
            w, b = out
            return roc_auc_score(ty, xt @ w + float(b))
    else:
        f = veil.jit(mlp.train_auto_grad, protocol=protocol, static_argnames=("n_batch", "n_epochs"))
        args, kwargs = (x1, x2, y.reshape(-1, 1), mlp.init_params()), {"n_epochs": 10}

        def auc(out):
            return roc_auc_score(ty, np.asarray(mlp.predict(out, xt)).ravel())
    return f, args, kwargs, auc


def run(name: str, repeat: int) -> dict:
    f, args, kwargs, auc = _job(name)
    t0 = time.perf_counter()
    f.compile(*args, **kwargs)
    compile_s = time.perf_counter() - t0
    times = []
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = f(*args, **kwargs)
        times.append(time.perf_counter() - t0)
    st = f.stats
    spu = SPU.get(name, (float("nan"),) * 4)
    return {
        "job": name,
        "compile_s": round(compile_s, 3),
        "run_s": round(statistics.median(times), 3),
        "online_MB": round(st.online_bytes / 1e6, 2),
        "offline_MB": round(st.offline_bytes / 1e6, 2),
        "rounds": st.rounds,
        "auc": round(auc(out), 4),
        "spu_compile_s": spu[0],
        "spu_run_s": spu[1],
        "spu_MB": spu[2],
        "spu_rounds": spu[3],
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", default="lr,lr_aby3,mlp")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "jobs.csv"))
    args = parser.parse_args()
    rows = [run(name, args.repeat) for name in args.jobs.split(",")]
    with open(args.out, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for r in rows:
        print("| " + " | ".join(str(r[k]) for k in keys) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
