"""SecretFlow SPU 0.9.5 side of the end-to-end jobs benchmark (run with .spu-venv/bin/python).

    .spu-venv/bin/python benchmarks/spu/run_spu_jobs.py [--jobs lr,lr_aby3,mlp,gpt2] [--repeat 3]
        [--out FILE] [--profile-out FILE]

The same JAX programs and data as benchmarks/bench_jobs.py (veil side), on SPU's threaded
simulator (spu_common.py): examples/logit_regression.py (10 full-batch epochs), the flax MLP
tutorial (examples/mlp_breast_cancer.py, 10 epochs) and the forward pass of veil's flax GPT-2
(veil/ml/models/gpt2.py, "tiny" config, seeded weights, the prompt of examples/gpt2_inference.py
as one-hot rows). Every input is secret. Per job, one JSON line:
  * compile_s: JAX -> XLA -> PPHLO (once); run_s: median of --repeat unprofiled runs;
  * party0_bytes / rounds: party 0's bytes sent and send actions (a run profiling rank 0 only);
  * total_bytes: bytes sent summed over all parties (a run profiling every rank);
  * quality against plaintext JAX: AUC (LR, MLP), max |secure - plaintext| of weights or logits.
--profile-out writes (as JSON, and as markdown next to it) SPU's own per-op tables (pphlo / HAL / MPC kernel: calls, seconds, bytes
sent, send actions) of party 0 for the LR job, plus the pphlo table of one unrolled GD step
(the loop body: inside `while` SPU's pphlo profile reports only the loop as a whole).
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import statistics
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import spu.api as spu_api
import spu.libspu as libspu
from sklearn.metrics import roc_auc_score

# jax >= 0.5 (veil's side) defaults to the partitionable threefry PRNG; jax 0.4.34 does not.
# Without this, PRNGKey(seed) initialises different MLP / GPT-2 weights on the two sides.
jax.config.update("jax_threefry_partitionable", True)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))  # benchmarks/: peak_memory
sys.path.insert(0, str(ROOT / "examples"))

import logit_regression as lr  # noqa: E402
from peak_memory import PeakRSS  # noqa: E402
from spu_common import Captured, compile_fn, make_config, measure, parse_link, parse_profile, run_once  # noqa: E402

JOBS = {
    "lr": ("semi2k", "FM64", 2),
    "lr_aby3": ("aby3", "FM64", 3),
    "mlp": ("semi2k", "FM64", 2),
    "mlp_aby3": ("aby3", "FM64", 3),
    "gpt2": ("semi2k", "FM64", 2),
}
GPT2_PROMPT = [[17, 42, 3, 99, 250, 8]]  # as in examples/gpt2_inference.py


def _lr_job() -> tuple[Callable, tuple, Callable[[Any], dict]]:
    x1, x2, y, t1, t2, ty = lr.load_breast_cancer_vertical()
    xt = np.concatenate([t1, t2], axis=1)
    fn = functools.partial(lr.train, n_epochs=10)
    w0, b0 = jax.jit(fn)(x1, x2, y)

    def quality(out: Any) -> dict:
        w, b = (np.asarray(v, dtype=np.float64) for v in out)
        return {
            "auc": roc_auc_score(ty, xt @ w + float(b)),
            "auc_plain": roc_auc_score(ty, xt @ np.asarray(w0) + float(b0)),
            "max_abs_err": float(max(np.abs(w - np.asarray(w0)).max(), abs(float(b) - float(b0)))),
        }

    return fn, (x1, x2, y), quality


def _mlp_job(n_epochs: int = 10) -> tuple[Callable, tuple, Callable[[Any], dict]]:
    import mlp_breast_cancer as mlp

    x1, x2, y, t1, t2, ty = lr.load_breast_cancer_vertical()
    xt = np.concatenate([t1, t2], axis=1)
    params = mlp.init_params()
    fn = functools.partial(mlp.train_auto_grad, n_epochs=n_epochs)
    args = (x1, x2, y.reshape(-1, 1), params)
    plain = jax.jit(fn)(*args)

    def quality(out: Any) -> dict:
        err = max(
            float(np.abs(np.asarray(a) - np.asarray(b)).max())
            for a, b in zip(jax.tree_util.tree_leaves(out), jax.tree_util.tree_leaves(plain))
        )
        return {
            "auc": roc_auc_score(ty, np.asarray(mlp.predict(out, xt)).ravel()),
            "auc_plain": roc_auc_score(ty, np.asarray(mlp.predict(plain, xt)).ravel()),
            "max_abs_err": err,
            "params_abs_sum": float(
                sum(np.abs(np.asarray(p, np.float64)).sum() for p in jax.tree_util.tree_leaves(params))
            ),
        }

    return fn, args, quality


def _load_veil_gpt2() -> Any:
    """veil/ml/models/gpt2.py (+ layers.py), loaded by path: both are plain JAX/flax and run
    under jax 0.4.34 / flax 0.8.5, while the rest of the veil package (veil/__init__.py) is
    not meant to import here. Empty stand-ins for the parent packages keep it from loading."""
    for pkg, sub in (("veil", "veil"), ("veil.ml", "veil/ml"), ("veil.ml.models", "veil/ml/models")):
        if pkg not in sys.modules:
            mod = types.ModuleType(pkg)
            mod.__path__ = [str(ROOT / sub)]
            sys.modules[pkg] = mod
    for name in ("layers", "gpt2"):
        full = f"veil.ml.models.{name}"
        if full not in sys.modules:
            spec = importlib.util.spec_from_file_location(
                full, ROOT / "veil" / "ml" / "models" / f"{name}.py"
            )
            module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
            sys.modules[full] = module
            spec.loader.exec_module(module)  # type: ignore[union-attr]
    return sys.modules["veil.ml.models.gpt2"]


def _gpt2_job() -> tuple[Callable, tuple, Callable[[Any], dict]]:
    gpt2 = _load_veil_gpt2()

    cfg = gpt2.CONFIGS["tiny"]
    params = gpt2.init_params(cfg, seed=0)
    onehot = gpt2.one_hot(np.array(GPT2_PROMPT), cfg.vocab_size)
    fn = functools.partial(gpt2.logits, cfg=cfg)
    plain = np.asarray(jax.jit(fn)(params, jnp.asarray(np.array(GPT2_PROMPT))))

    def quality(out: Any) -> dict:
        return {
            "max_abs_err": float(np.abs(np.asarray(out) - plain).max()),
            "logit_scale": float(np.abs(plain).max()),
            "params_abs_sum": float(
                sum(np.abs(np.asarray(p, np.float64)).sum() for p in jax.tree_util.tree_leaves(params))
            ),
        }

    return fn, (params, onehot), quality


def build(name: str) -> tuple[Callable, tuple, Callable[[Any], dict]]:
    """(function with static arguments bound, secret arguments, quality check) of one job."""
    if name.startswith("lr"):
        return _lr_job()
    if name.startswith("mlp"):
        return _mlp_job()
    return _gpt2_job()


def run_job(name: str, repeat: int) -> tuple[dict, str]:
    """One job's JSON row, and party 0's profile log of the profiled run."""
    protocol, field, world = JOBS[name]
    cfg = make_config(protocol, field)
    fn, args, quality = build(name)
    with PeakRSS() as mem:  # compile and every run, as on veil's side
        executable, compile_s, _ = compile_fn(fn, args, world)
        out_tree = jax.tree_util.tree_structure(jax.eval_shape(fn, *args))
        flat, times, p0, everyone, log0 = measure(
            cfg, world, executable, jax.tree_util.tree_leaves(args), repeat
        )
    out = jax.tree_util.tree_unflatten(out_tree, flat)
    row = {
        "side": "spu",
        "job": name,
        "protocol": protocol,
        "field": field,
        "compile_s": compile_s,
        "run_s": statistics.median(times),
        "run_s_all": times,
        "party0_bytes": p0[0][0],
        "total_bytes": sum(b for b, _ in everyone),
        "rounds": p0[0][1],
        "max_rounds": max(a for _, a in everyone),
        "peak_mb": mem.delta_mb,
    }
    row.update(quality(out))
    return row, log0


def lr_step_profile() -> str:
    """Party 0's log of one unrolled full-batch GD step (the LR loop body), SEMI2K FM64."""
    x1, x2, y, *_ = lr.load_breast_cancer_vertical()

    def step(x1: Any, x2: Any, y: Any) -> Any:
        x = jnp.concatenate([x1, x2], axis=1)
        w, b = jnp.zeros(x.shape[1]), 0.0
        gw, gb = jax.grad(lr.loss, argnums=(2, 3))(x, y, w, b)
        return w - gw * 0.01, b - gb * 0.01

    cfg = make_config("semi2k", "FM64")
    executable, _, _ = compile_fn(step, (x1, x2, y), 2)
    io = spu_api.Io(2, cfg)
    shares = [io.make_shares(np.asarray(a), libspu.Visibility.VIS_SECRET) for a in (x1, x2, y)]
    with Captured() as cap:
        run_once(cfg, 2, executable, shares, {0})
    return cap.text


def profile_tables(text: str) -> dict[str, list[dict]]:
    """pphlo / HAL / MPC tables of one log, most send actions first."""
    tables = {}
    for key, header in (("pphlo", "HLO profiling"), ("hal", "HAL profiling"), ("mpc", "MPC profiling")):
        rows = [
            {"op": op, "calls": c, "send_bytes": b, "send_actions": a, "seconds": s}
            for op, (c, b, a, s) in parse_profile(text, header).items()
        ]
        tables[key] = sorted(rows, key=lambda r: (-r["send_actions"], -r["send_bytes"]))
    link = parse_link(text)
    tables["link_party0"] = [{"send_bytes": link[0][0], "send_actions": link[0][1]}] if link else []
    return tables


def profile_markdown(profile: dict[str, Any]) -> str:
    """The profile tables as markdown (ops that sent nothing are left out)."""
    titles = {
        "lr_10_epochs": "LR, 10 full-batch epochs (SEMI2K FM64), party 0",
        "lr_one_step": "LR, one unrolled GD step = the loop body (SEMI2K FM64), party 0",
    }
    lines = ["# SPU 0.9.5 per-op profile of the LR job", "", "Written by benchmarks/spu/run_spu_jobs.py."]
    for key, title in titles.items():
        tables = profile.get(key)
        if not isinstance(tables, dict):
            continue
        link = tables.get("link_party0") or [{"send_bytes": 0, "send_actions": 0}]
        lines += [
            "",
            f"## {title}",
            "",
            f"Link: {link[0]['send_bytes']} bytes sent, {link[0]['send_actions']} send actions.",
        ]
        for level in ("pphlo", "hal", "mpc"):
            lines += ["", f"{level} | calls | send actions | bytes sent | s", "---|---|---|---|---"]
            for r in tables[level]:
                if r["send_actions"] or r["send_bytes"]:
                    lines.append(
                        f"{r['op']} | {r['calls']} | {r['send_actions']} | {r['send_bytes']} | {r['seconds']:.4f}"
                    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jobs", default="lr,lr_aby3,mlp,gpt2")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--out", default="-")
    p.add_argument("--profile-out", default=str(ROOT / "benchmarks" / "results" / "spu_lr_profile.json"))
    a = p.parse_args(argv)
    out = sys.stdout if a.out == "-" else open(a.out, "a", encoding="utf-8")  # noqa: SIM115
    profile: dict[str, Any] = {}
    for name in [j for j in a.jobs.split(",") if j]:
        if name not in JOBS:
            raise SystemExit(f"unknown job {name!r}; choose from {','.join(JOBS)}")
        try:
            row, log = run_job(name, a.repeat)
        except Exception as e:  # noqa: BLE001 - one failing job must not stop the others
            row, log = {"side": "spu", "job": name, "error": f"{type(e).__name__}: {e}"}, ""
        if name == "lr" and log:
            profile["lr_10_epochs"] = profile_tables(log)
        out.write(json.dumps(row) + "\n")
        out.flush()
    if "lr" in a.jobs.split(",") and a.profile_out:
        try:
            profile["lr_one_step"] = profile_tables(lr_step_profile())
        except Exception as e:  # noqa: BLE001
            profile["lr_one_step_error"] = f"{type(e).__name__}: {e}"
        Path(a.profile_out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.profile_out).write_text(json.dumps(profile, indent=1), encoding="utf-8")
        Path(a.profile_out).with_suffix(".md").write_text(profile_markdown(profile), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
