"""The demo's jobs: what each party loads, the programs the SPU runs, the plaintext references.

Written once against a small backend interface (`veil.demo.ProcessBackend` runs it on party
processes through the device API, `veil.demo.SimulatorBackend` on `veil.jit`):

    backend.load(party, fn, *args, num_returns=k)    run fn at that party -> its plaintext object(s)
    backend.share(obj)                               the owner secret-shares obj into the SPU
    backend.run(fn, *args, static=(...), num_returns=k, **kw)   one SPU call -> SPU object(s)
    backend.reveal(obj) / backend.reveal_to(obj, party)          plaintext to the driver / one party

Training runs in a few SPU calls (chunks of epochs) that pass the model's SPU objects by
reference, so the driver can print progress while the weights stay secret between calls.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

ALICE_COLUMNS = slice(0, 15)
BOB_COLUMNS = slice(15, 30)
DEFAULT_TEXT = "Secret shares let hospitals train on joint data without sharing it."


# ---- data: each party loads only its own part ---------------------------------------------------


def _split_rows(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The row alignment both parties agreed on (train/test ids); in practice the output of a PSI."""
    from sklearn.model_selection import train_test_split

    return train_test_split(np.arange(n), test_size=0.2, random_state=42)


def load_columns(columns: slice, with_labels: bool = False) -> Any:
    """One party's training data: its feature columns, min-max scaled per column (a local
    operation), for the agreed training rows; plus the labels for the label holder."""
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    x = x[:, columns]
    x = (x - x.min(axis=0)) / (x.max(axis=0) - x.min(axis=0))
    train, _ = _split_rows(len(y))
    if with_labels:
        return x[train], y[train].astype(np.float64)
    return x[train]


def load_plaintext() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All columns in one place, for the plaintext baseline only: (x_train, y_train, x_test, y_test)."""
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    x = (x - x.min(axis=0)) / (x.max(axis=0) - x.min(axis=0))
    train, test = _split_rows(len(y))
    return x[train], y[train].astype(np.float64), x[test], y[test]


def auc(y: np.ndarray, score: Any) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, np.asarray(score).ravel()))


def epoch_chunks(epochs: int, max_calls: int = 5) -> list[int]:
    """Split `epochs` into at most `max_calls` near-equal SPU calls (larger chunks first)."""
    if epochs < 1:
        raise ValueError(f"--epochs must be >= 1, got {epochs}")
    n = min(epochs, max_calls)
    return [epochs // n + (1 if i < epochs % n else 0) for i in range(n)]


# ---- logistic regression: the seed's program, jax.grad of the log loss, full batch ---------------


def _lr_loss(w, b, x, y):
    prob = jax.nn.sigmoid(x @ w + b)
    return -jnp.mean(y * jnp.log(prob + 1e-4) + (1 - y) * jnp.log(1 - prob + 1e-4))


def lr_epochs(x_alice, x_bob, y, params, epochs: int = 10, lr: float = 1.0):
    """`epochs` full-batch gradient steps on the log loss from `params` = (w, b)."""
    x = jnp.concatenate([x_alice, x_bob], axis=1)

    def epoch(_, wb):
        gw, gb = jax.grad(_lr_loss, argnums=(0, 1))(wb[0], wb[1], x, y)
        return wb[0] - lr * gw, wb[1] - lr * gb

    return jax.lax.fori_loop(0, epochs, epoch, params)


def lr_init() -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(30), np.zeros(())


def lr_score(params: Any, x: np.ndarray) -> np.ndarray:
    w, b = params
    return x @ np.asarray(w) + np.asarray(b)


# ---- SecretFlow's MLP tutorial: flax [30, 15, 8, 1], batch 10, MSE, SGD 0.01 ----------------------

MLP_FEATURES = (30, 15, 8, 1)


def _mlp_module() -> Any:
    import flax.linen as nn

    class MLP(nn.Module):
        features: Sequence[int]

        @nn.compact
        def __call__(self, x):
            for feat in self.features[:-1]:
                x = nn.relu(nn.Dense(feat)(x))
            return nn.Dense(self.features[-1])(x)

    return MLP(MLP_FEATURES)


def mlp_epochs(x_alice, x_bob, y, params, epochs: int = 1, n_batch: int = 10, step_size: float = 0.01):
    """The tutorial's `train_auto_grad`: `epochs` passes of batch-10 SGD on the MSE, from `params`."""
    model = _mlp_module()
    x = jnp.concatenate((x_alice, x_bob), axis=1)
    y = y.reshape(-1, 1)
    xs = jnp.array_split(x, len(x) / n_batch, axis=0)
    ys = jnp.array_split(y, len(y) / n_batch, axis=0)

    def loss(p, xb, yb):
        d = yb - model.apply(p, xb)
        return jnp.mean(d * d / 2.0)

    def epoch(_, p):
        for xb, yb in zip(xs, ys):
            grads = jax.grad(loss)(p, xb, yb)
            p = jax.tree_util.tree_map(lambda w, g: w - step_size * g, p, grads)
        return p

    return jax.lax.fori_loop(0, epochs, epoch, params)


def mlp_init() -> Any:
    return jax.tree_util.tree_map(
        np.asarray, _mlp_module().init(jax.random.PRNGKey(1), jnp.ones((10, MLP_FEATURES[0])))
    )


def mlp_score(params: Any, x: np.ndarray) -> np.ndarray:
    return np.asarray(_mlp_module().apply(params, x))


def mlp_reference(x_alice, x_bob, y, params, epochs: int = 1, n_batch: int = 10, step_size: float = 0.01):
    """`mlp_epochs` in float64 numpy with hand-written backprop: the plaintext baseline in well
    under a second (jax.jit of the tutorial's 45 unrolled batches takes ~20 s to trace and compile)."""
    layers = [
        [np.array(d["kernel"], np.float64), np.array(d["bias"], np.float64)]
        for _, d in sorted(params["params"].items(), key=lambda kv: int(kv[0].split("_")[1]))
    ]
    x, y = np.concatenate([x_alice, x_bob], axis=1), np.asarray(y, np.float64).reshape(-1, 1)
    batches = np.array_split(np.arange(len(x)), int(len(x) / n_batch))  # = jnp.array_split(x, len / n)
    for _ in range(epochs):
        for rows in batches:
            acts = [x[rows]]
            for i, (w, b) in enumerate(layers):
                z = acts[-1] @ w + b
                acts.append(np.maximum(z, 0.0) if i < len(layers) - 1 else z)
            delta = (acts[-1] - y[rows]) / len(rows)  # d mean((y - out)^2 / 2) / d out
            for i in range(len(layers) - 1, -1, -1):
                w, b = layers[i]
                grad_w, grad_b = acts[i].T @ delta, delta.sum(axis=0)
                if i:
                    delta = (delta @ w.T) * (acts[i] > 0)  # relu'(z) = [z > 0], as jax.nn.relu
                layers[i] = [w - step_size * grad_w, b - step_size * grad_b]
    return {"params": {f"Dense_{i}": {"kernel": w, "bias": b} for i, (w, b) in enumerate(layers)}}


@dataclass(frozen=True)
class TrainJob:
    """A vertical training job: its program (one chunk of epochs), model init and test score."""

    title: str
    epochs_fn: Callable[..., Any]
    init: Callable[[], Any]
    score: Callable[[Any, np.ndarray], np.ndarray]
    reference: Callable[..., Any]  # the plaintext baseline: (x_alice, x_bob, y, params, epochs=) -> params
    reference_label: str
    default_epochs: int


TRAIN_JOBS = {
    "lr": TrainJob(
        "logistic regression (jax.grad, full batch)", lr_epochs, lr_init, lr_score,
        jax.jit(lr_epochs, static_argnames="epochs"), "the same program in JAX", 10,
    ),
    "mlp": TrainJob(
        "MLP [30, 15, 8, 1] (SecretFlow's tutorial, batch 10)", mlp_epochs, mlp_init, mlp_score,
        mlp_reference, "the same training in numpy", 5,
    ),
}  # fmt: skip


def run_training(job: TrainJob, backend: Any, ui: Any, epochs: int) -> dict[str, Any]:
    """Load and share the parties' data, train in chunks on the SPU, reveal, compare with plaintext."""
    with ui.stage("loading and sharing inputs"):
        xa = backend.load("alice", load_columns, ALICE_COLUMNS)
        xb, y = backend.load("bob", load_columns, BOB_COLUMNS, True, num_returns=2)
        params0 = backend.load("alice", job.init)  # alice initialises the model, as in the tutorial
        sa, sb, sy, params = (backend.share(o) for o in (xa, xb, y, params0))
    start = time.perf_counter()
    with ui.stage(f"compiling and running {epochs} epochs on the SPU"):
        done = 0
        for chunk in epoch_chunks(epochs):
            t0, c0 = time.perf_counter(), backend.totals.compile_s
            params = backend.run(job.epochs_fn, sa, sb, sy, params, static=("epochs",), epochs=chunk)
            done += chunk
            compiled = backend.totals.compile_s - c0
            note = f"  (traced+compiled in {compiled:.1f} s)" if compiled > 0.5 else ""
            ui.progress(done, epochs, time.perf_counter() - t0, note)
    with ui.stage("revealing the model to the driver"):
        model = backend.reveal(params)
    secure_s = time.perf_counter() - start
    with ui.stage(f"plaintext reference ({job.reference_label})"):
        x_tr, y_tr, x_te, y_te = load_plaintext()
        plain = job.reference(x_tr[:, ALICE_COLUMNS], x_tr[:, BOB_COLUMNS], y_tr, job.init(), epochs=epochs)
    err = max(
        float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
        for a, b in zip(jax.tree_util.tree_leaves(model), jax.tree_util.tree_leaves(plain))
    )
    return {
        "metric": "AUC",
        "plaintext": auc(y_te, job.score(plain, x_te)),
        "secure": auc(y_te, job.score(model, x_te)),
        "max_param_error": err,
        "secure_s": secure_s,
        "detail": f"{len(y_tr)} training rows, {len(y_te)} test rows, {epochs} epochs",
    }


# ---- BERT: secure sentence embedding with all-MiniLM-L6-v2 ------------------------------------------


def _tokenize(text: str, cfg: Any) -> tuple[Any, np.ndarray]:
    """The user's side: token ids as a factored one-hot (secret) and the attention mask (public)."""
    from veil.ml.models import bert

    ids, mask = bert.encode(bert.load_tokenizer(), [text])
    return bert.secret_tokens(ids, cfg), mask


def run_bert(backend: Any, ui: Any, text: str) -> dict[str, Any]:
    """bob owns the weights, alice the sentence; the SPU embeds it and reveals the vector to alice."""
    import veil
    from veil.ml.models import bert

    with ui.stage("loading (bob: all-MiniLM-L6-v2 weights, alice: her sentence) and sharing"):
        try:
            bert.minilm_dir()
        except FileNotFoundError as e:
            raise SystemExit(f"veil demo --job bert: {e}") from None
        arch, weights = backend.load("bob", bert.load_minilm, num_returns=2)
        cfg = backend.reveal(arch)  # the architecture (shapes) is public; the weights are not
        tokens, mask = backend.load("alice", _tokenize, text, cfg, num_returns=2)
        public_mask = np.asarray(backend.reveal(mask))  # the sentence length is public
        s_weights, s_tokens = backend.share(weights), backend.share(tokens)

    def embed(params, toks, attention_mask):
        return bert.sentence_embedding(params, toks, attention_mask, cfg)

    start = time.perf_counter()
    with ui.stage(f"compiling and running BERT ({cfg.n_layer} layers, {int(public_mask.sum())} tokens)"):
        out = backend.run(embed, s_weights, s_tokens, veil.public(public_mask))
    with ui.stage("revealing the embedding to alice only"):
        secure = np.asarray(backend.reveal_to(out, "alice")).ravel()
    secure_s = time.perf_counter() - start
    with ui.stage("plaintext reference (the same model in JAX)"):
        ids, m = bert.encode(bert.load_tokenizer(), [text])
        params = backend.reveal(weights)  # the driver plays bob in this demo
        plain = np.asarray(jax.jit(bert.sentence_embedding, static_argnums=3)(params, ids, m, cfg)).ravel()
    cosine = float(secure @ plain / (np.linalg.norm(secure) * np.linalg.norm(plain)))
    return {
        "metric": "cosine(secure, plaintext)",
        "plaintext": 1.0,
        "secure": cosine,
        "max_param_error": float(np.max(np.abs(secure - plain))),
        "secure_s": secure_s,
        "detail": f"{text!r}: {int(public_mask.sum())} tokens, {cfg.hidden}-dim embedding",
    }
