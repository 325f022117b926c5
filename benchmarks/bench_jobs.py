"""End-to-end jobs under veil.jit (simulation), side by side with SecretFlow SPU 0.9.5.

    .venv/bin/python benchmarks/bench_jobs.py [--jobs lr,lr_aby3,mlp,gpt2] [--repeat 3] [--with-spu]

Jobs (same JAX code and data on both sides; every input secret):
  lr, lr_aby3   examples/logit_regression.py, 10 full-batch GD epochs (SEMI2K / ABY3, FM64)
  mlp, mlp_aby3 SecretFlow's MLP tutorial (examples/mlp_breast_cancer.py), 10 epochs
  gpt2          forward pass (logits) of veil's flax GPT-2, "tiny" config, seeded weights, the
                6-token prompt of examples/gpt2_inference.py as one-hot rows (SEMI2K FM64)
  bert          all-MiniLM-L6-v2 (real weights) embedding of one sentence, veil only (SEMI2K FM64)

Compile and run are reported apart; run = median of `--repeat` calls on the compiled program.
With --with-spu, veil's jobs run first, then SPU's (benchmarks/spu/run_spu_jobs.py in
.spu-venv, made by benchmarks/spu/setup_venv.sh) in a subprocess, one after the other. Without
it, or when the venv cannot be built, SPU's columns fall back to the numbers copied from
shared/REFERENCE.md, labelled `spu_source=REFERENCE.md` (not measured in this run).
Writes benchmarks/results/jobs.csv, jobs.md and the raw rows jobs_veil.jsonl / jobs_spu.jsonl.
Both sides run every party as a thread of one process: compare wall times only from one run.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT / "examples"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import logit_regression as lr  # noqa: E402
import mlp_breast_cancer as mlp  # noqa: E402
from peak_memory import PeakRSS  # noqa: E402

import veil  # noqa: E402
from veil.bench.spu_side import ensure_venv, run_script  # noqa: E402
from veil.ml.models import gpt2  # noqa: E402

CONFIG = {
    "lr": "semi2k_fm64",
    "lr_aby3": "aby3_fm64",
    "mlp": "semi2k_fm64",
    "mlp_aby3": "aby3_fm64",
    "gpt2": "semi2k_fm64",
    "bert": "semi2k_fm64",
}
SPU_JOBS = (
    "lr",
    "lr_aby3",
    "mlp",
    "mlp_aby3",
    "gpt2",
)  # bert: veil only (SPU's venv lacks the model package)
BERT_TEXT = "The cat sits on the mat."
GPT2_PROMPT = [[17, 42, 3, 99, 250, 8]]  # as in examples/gpt2_inference.py

# Fallback only: SPU 0.9.5 as copied from shared/REFERENCE.md (compile s, run s, MB, rounds).
# Not comparable to a live run: REFERENCE's MB column and round counts were taken differently
# (a live run here measures LR SEMI2K at 20.5 MB over both parties and 1460 send actions).
REFERENCE_SPU = {
    "lr": (0.14, 0.119, 10.0, 590),
    "lr_aby3": (0.13, 0.134, 8.4, 893),
    "mlp": (22.6, 4.47, 90.1, 26100),
    "mlp_aby3": (22.8, 8.44, 137.4, 39160),
}


def _abs_sum(tree: Any) -> float:
    """Sum of |initial weights|: shows both sides start from the same seeded parameters."""
    return float(sum(np.abs(np.asarray(x, np.float64)).sum() for x in jax.tree_util.tree_leaves(tree)))


def _job(name: str) -> tuple[Any, tuple, dict, Any]:
    """(veil.jit function, args, static kwargs, quality(out) -> dict) of one job."""
    protocol = CONFIG[name].split("_")[0]
    if name == "bert":
        return _bert_job(protocol)
    if name == "gpt2":
        cfg = gpt2.CONFIGS["tiny"]
        params = gpt2.init_params(cfg, seed=0)
        plain = np.asarray(jax.jit(gpt2.logits, static_argnums=2)(params, np.array(GPT2_PROMPT), cfg))
        f = veil.jit(lambda p, x: gpt2.logits(p, x, cfg), protocol=protocol)

        def gpt2_quality(out: Any) -> dict:
            return {
                "max_abs_err": float(np.abs(np.asarray(out) - plain).max()),
                "logit_scale": float(np.abs(plain).max()),
                "params_abs_sum": _abs_sum(params),  # same seeded weights as the SPU side?
            }

        return f, (params, gpt2.one_hot(np.array(GPT2_PROMPT), cfg.vocab_size)), {}, gpt2_quality
    x1, x2, y, t1, t2, ty = lr.load_breast_cancer_vertical()
    xt = np.concatenate([t1, t2], axis=1)
    if name.startswith("lr"):
        f = veil.jit(lr.train, protocol=protocol, static_argnames="n_epochs")
        args, kwargs = (x1, x2, y), {"n_epochs": 10}
        w0, b0 = lr.train(*args, **kwargs)

        def lr_quality(out: Any) -> dict:
            w, b = np.asarray(out[0], np.float64), float(out[1])
            return {
                "auc": roc_auc_score(ty, xt @ w + b),
                "auc_plain": roc_auc_score(ty, xt @ np.asarray(w0) + float(b0)),
                "max_abs_err": float(max(np.abs(w - np.asarray(w0)).max(), abs(b - float(b0)))),
            }

        return f, args, kwargs, lr_quality
    f = veil.jit(mlp.train_auto_grad, protocol=protocol, static_argnames=("n_batch", "n_epochs"))
    params = mlp.init_params()
    args, kwargs = (x1, x2, y.reshape(-1, 1), params), {"n_epochs": 10}
    plain = mlp.train_auto_grad(*args, **kwargs)

    def mlp_quality(out: Any) -> dict:
        pairs = zip(jax.tree_util.tree_leaves(out), jax.tree_util.tree_leaves(plain))
        return {
            "auc": roc_auc_score(ty, np.asarray(mlp.predict(out, xt)).ravel()),
            "auc_plain": roc_auc_score(ty, np.asarray(mlp.predict(plain, xt)).ravel()),
            "max_abs_err": max(float(np.abs(np.asarray(a) - np.asarray(b)).max()) for a, b in pairs),
            "params_abs_sum": _abs_sum(params),
        }

    return f, args, kwargs, mlp_quality


def _bert_job(protocol: str) -> tuple[Any, tuple, dict, Any]:
    """all-MiniLM-L6-v2 on its real weights: one sentence's embedding (tokens secret, lengths public)."""
    from veil.ml.models import bert

    cfg, params = bert.load_minilm()
    ids, mask = bert.encode(bert.load_tokenizer(), [BERT_TEXT])
    plain = np.asarray(jax.jit(bert.sentence_embedding, static_argnums=3)(params, ids, mask, cfg))
    f = veil.jit(lambda p, x, m: bert.sentence_embedding(p, x, m, cfg), protocol=protocol)

    def bert_quality(out: Any) -> dict:
        got = np.asarray(out, np.float64)
        cos = float((got * plain).sum() / (np.linalg.norm(got) * np.linalg.norm(plain)))
        return {"cosine": cos, "max_abs_err": float(np.abs(got - plain).max())}

    return f, (params, bert.secret_tokens(ids, cfg), veil.public(mask)), {}, bert_quality


def run_veil(name: str, repeat: int) -> dict:
    """veil's row for one job: compile s, median run s, bytes, rounds, quality."""
    f, args, kwargs, quality = _job(name)
    with PeakRSS() as mem:  # compile and every run, as on SPU's side
        t0 = time.perf_counter()
        f.compile(*args, **kwargs)
        compile_s = time.perf_counter() - t0
        times, out = [], None
        for _ in range(repeat):
            t0 = time.perf_counter()
            out = f(*args, **kwargs)
            times.append(time.perf_counter() - t0)
    st = f.stats
    if name == "lr":  # veil's per-op table, next to SPU's (run_spu_jobs.py --profile-out)
        (RESULTS / "veil_lr_profile.txt").write_text(st.table() + "\n")
    row = {
        "side": "veil",
        "job": name,
        "config": CONFIG[name],
        "compile_s": compile_s,
        "run_s": statistics.median(times),
        "run_s_all": times,
        "total_bytes": st.online_bytes,
        "party0_bytes": st.party0_bytes,
        "offline_bytes": st.offline_bytes,
        "rounds": st.rounds,
        "peak_mb": mem.delta_mb,
    }
    row.update(quality(out))
    return row


def run_spu(jobs: list[str], repeat: int, timeout_s: float = 3600.0) -> tuple[list[dict], str | None]:
    """SPU's rows from benchmarks/spu/run_spu_jobs.py in .spu-venv; (rows, skip reason or None)."""
    reason = ensure_venv()
    if reason is not None:
        return [], reason
    args = [
        f"--jobs={','.join(jobs)}",
        f"--repeat={repeat}",
        f"--profile-out={RESULTS / 'spu_lr_profile.json'}",
    ]
    return run_script(ROOT / "benchmarks" / "spu" / "run_spu_jobs.py", args, timeout_s)


def _ratio(a: Any, b: Any) -> float | str:
    try:
        fa, fb = float(a), float(b)
    except (TypeError, ValueError):
        return "-"
    return round(fa / fb, 2) if fb and fa == fa and fb == fb else "-"


def _r(x: Any, nd: int = 3) -> Any:
    return round(float(x), nd) if isinstance(x, int | float) and x == x else "-"


def compare(veil_rows: list[dict], spu_rows: list[dict], measured: bool) -> list[dict]:
    """One comparison row per job (veil / SPU and veil ÷ SPU)."""
    spu = {r["job"]: r for r in spu_rows if "error" not in r}
    out = []
    for v in veil_rows:
        s: dict[str, Any] = dict(spu.get(v["job"], {}))
        source = "measured" if s else "-"
        if not s and not measured and v["job"] in REFERENCE_SPU:
            c, t, mb, rounds = REFERENCE_SPU[v["job"]]
            s = {"compile_s": c, "run_s": t, "total_bytes": mb * 1e6, "rounds": rounds}
            source = "REFERENCE.md"
        get = lambda k, s=s: s.get(k, float("nan"))  # noqa: E731
        out.append(
            {
                "job": v["job"],
                "config": v["config"],
                "spu_source": source,
                "veil_compile_s": _r(v["compile_s"]),
                "spu_compile_s": _r(get("compile_s")),
                "compile_ratio": _ratio(v["compile_s"], get("compile_s")),
                "veil_run_s": _r(v["run_s"]),
                "spu_run_s": _r(get("run_s")),
                "run_ratio": _ratio(v["run_s"], get("run_s")),
                "veil_total_s": _r(v["compile_s"] + v["run_s"]),
                "spu_total_s": _r(get("compile_s") + get("run_s")),
                "total_ratio": _ratio(v["compile_s"] + v["run_s"], get("compile_s") + get("run_s")),
                "veil_peak_MB": _r(v.get("peak_mb", float("nan")), 0),
                "spu_peak_MB": _r(get("peak_mb"), 0),
                "veil_MB": _r(v["total_bytes"] / 1e6, 2),
                "spu_MB": _r(get("total_bytes") / 1e6, 2),
                "MB_ratio": _ratio(v["total_bytes"], get("total_bytes")),
                "veil_offline_MB": _r(v["offline_bytes"] / 1e6, 2),
                "veil_rounds": v["rounds"],
                "spu_rounds": s.get("rounds", "-"),
                "rounds_ratio": _ratio(v["rounds"], get("rounds")),
                "veil_auc": _r(v.get("auc", float("nan")), 4),
                "spu_auc": _r(get("auc"), 4),
                "plain_auc": _r(v.get("auc_plain", float("nan")), 4),
                "veil_cosine": _r(v.get("cosine", float("nan")), 5),
                "veil_max_err": f"{v['max_abs_err']:.2g}",
                "spu_max_err": f"{s['max_abs_err']:.2g}" if "max_abs_err" in s else "-",
            }
        )
    return out


def markdown(rows: list[dict], header: str) -> str:
    keys = list(rows[0])
    lines = [header, "", "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", default="lr,lr_aby3,mlp,gpt2")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--with-spu", action="store_true", help="also run SPU 0.9.5 in .spu-venv (same run)")
    parser.add_argument("--out", default=str(RESULTS / "jobs.csv"))
    args = parser.parse_args()
    jobs = [j for j in args.jobs.split(",") if j]
    for j in jobs:
        if j not in CONFIG:
            raise SystemExit(f"unknown job {j!r}; choose from {','.join(CONFIG)}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    start = time.time()
    veil_rows = []
    for name in jobs:
        print(f"veil: {name} ...", file=sys.stderr, flush=True)
        veil_rows.append(run_veil(name, args.repeat))
    (RESULTS / "jobs_veil.jsonl").write_text("".join(json.dumps(r) + "\n" for r in veil_rows))
    spu_rows: list[dict] = []
    note = "SPU columns: shared/REFERENCE.md (not measured in this run; run with --with-spu)."
    if args.with_spu:
        spu_jobs = [j for j in jobs if j in SPU_JOBS]
        print("spu: " + ",".join(spu_jobs) + " ...", file=sys.stderr, flush=True)
        spu_rows, reason = run_spu(spu_jobs, args.repeat)
        if reason is not None:
            print(f"SPU side skipped: {reason}", file=sys.stderr)
            note = f"SPU side skipped ({reason}); SPU columns fall back to shared/REFERENCE.md."
        else:
            note = "SPU 0.9.5 measured in the same run (benchmarks/spu/run_spu_jobs.py, .spu-venv)."
            for r in spu_rows:
                if "error" in r:
                    print(f"SPU {r['job']} failed: {r['error']}", file=sys.stderr)
        (RESULTS / "jobs_spu.jsonl").write_text("".join(json.dumps(r) + "\n" for r in spu_rows))
    rows = compare(veil_rows, spu_rows, measured=bool(spu_rows))
    with open(args.out, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    stamp = time.strftime("%Y-%m-%d %H:%M")
    header = (
        f"# Jobs: veil vs SecretFlow SPU 0.9.5\n\nGenerated by `benchmarks/bench_jobs.py --jobs {args.jobs} "
        f"--repeat {args.repeat}{' --with-spu' if args.with_spu else ''}` on {stamp}, Python "
        f"{platform.python_version()}, in {time.time() - start:.0f} s. {note}\n\nMB = online bytes sent, "
        "all parties; rounds = veil's message depth / SPU's party-0 send actions; run s = median of "
        "--repeat (compile excluded); total s = compile + run (the wall time to a result); peak MB "
        "= resident memory the job added over the process's size at its start (benchmarks/peak_memory.py, "
        "compile and all runs); ratio = veil ÷ SPU (lower is better for veil)."
    )
    text = markdown(rows, header)
    (RESULTS / "jobs.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
