"""Secure linear models trained entirely on secret shares: SS-LR, SS linear regression, SS-GLM.

Data are vertically partitioned: `fit(x_parts, y)` takes one feature block per party (same rows,
different columns) and the label. Everything (concatenation, mini-batch SGD, the sigmoid or exp,
the L2 penalty) runs inside one `veil.jit` call, so no party sees another's columns, the labels,
gradients or intermediate weights.

What is revealed: by default (`reveal=True`) the trained weights are revealed to the caller at
the end of `fit` (`coef_`, `intercept_`), like sklearn. With `reveal=False` nothing is revealed by
`fit`: the model stays secret, and `predict*` retrains and predicts in one secure call, so only
the predictions are revealed (`veil.jit` reveals every output, so a secret model cannot outlive
the call that made it; the price is one training per prediction call).

Training schedule: mini-batch SGD, epochs in a scan over a public learning-rate schedule
(`lr * decay_rate ** (epoch // decay_epoch)`), batches in a scan. Objective: mean loss +
l2 / 2 * ||w||^2 (sklearn's C = 1 / (n * l2); PoissonRegressor's alpha = l2). The intercept is
not penalised. "policy_sgd" (SecretFlow's SS-LR strategy) scales each batch's step by
1 / ||g|| measured in the first epoch and decays the rate (default 0.5 every 5 epochs).
Early stopping on convergence is not offered: whether a secret model has converged is itself
secret, and revealing it every epoch leaks; the number of epochs is public and fixed instead
(choose it with the decay schedule, as SecretFlow's policy_sgd does).

Features should be standardised (zero mean, unit variance) or SGD will not converge, and fixed
point needs |x @ w| well inside the field's range (FM64: |x * w| < ~1e7).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import veil

Array = Any
_SIGMOIDS = ("exact", "segments", "polynomial")


def _check_parts(x_parts: Sequence[Any], y: Any | None = None) -> tuple[list[np.ndarray], np.ndarray | None]:
    """Validate a vertical partition: a non-empty list of 2-D blocks with the same rows."""
    if isinstance(x_parts, np.ndarray) or not isinstance(x_parts, Sequence) or not x_parts:
        raise ValueError("x_parts must be a non-empty list of 2-D arrays (one column block per party)")
    parts = [np.asarray(p, dtype=np.float64) for p in x_parts]
    if any(p.ndim != 2 for p in parts):
        raise ValueError(f"every x_parts block must be 2-D, got shapes {[p.shape for p in parts]}")
    rows = {p.shape[0] for p in parts}
    if len(rows) != 1:
        raise ValueError(f"x_parts blocks must have the same number of rows, got {sorted(rows)}")
    if y is None:
        return parts, None
    yv = np.asarray(y, dtype=np.float64).reshape(-1)
    if yv.shape[0] != parts[0].shape[0]:
        raise ValueError(f"y has {yv.shape[0]} rows but x_parts have {parts[0].shape[0]}")
    return parts, yv


def lr_schedule(
    epochs: int, learning_rate: float, decay_rate: float | None, decay_epoch: int | None
) -> np.ndarray:
    """Public per-epoch learning rates: lr * decay_rate ** (epoch // decay_epoch)."""
    if decay_rate is None:
        return np.full(epochs, learning_rate, np.float32)
    if not 0 < decay_rate < 1 or not decay_epoch or decay_epoch < 1:
        raise ValueError(f"decay_rate={decay_rate} must be in (0, 1) and decay_epoch={decay_epoch} >= 1")
    return (learning_rate * decay_rate ** (np.arange(epochs) // decay_epoch)).astype(np.float32)


def batch_layout(n: int, batch_size: int) -> tuple[int, np.ndarray]:
    """(rows to pad, public row weights (nb, B)): 1 / rows-in-batch for real rows, 0 for padding.

    The last batch is zero-padded so every batch has the same shape (one scan body); weighting
    the residuals turns the batch mean into a sum with no division.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size} must be >= 1")
    b = min(batch_size, n)
    nb = -(-n // b)
    mask = (np.arange(nb * b) < n).astype(np.float32).reshape(nb, b)
    return nb * b - n, mask / mask.sum(axis=1, keepdims=True)


class _SSLinearBase(ABC):
    """Shared fitting machinery; subclasses define the mean (inverse link) and its gradient."""

    def __init__(
        self,
        epochs: int = 10,
        batch_size: int = 64,
        learning_rate: float = 0.1,
        l2: float = 0.0,
        decay_rate: float | None = None,
        decay_epoch: int | None = None,
        protocol: str = "semi2k",
        field: str = "FM64",
        parties: int | None = None,
        config: Any = None,
    ) -> None:
        if epochs < 1:
            raise ValueError(f"epochs={epochs} must be >= 1")
        if learning_rate <= 0 or l2 < 0:
            raise ValueError(f"need learning_rate > 0 and l2 >= 0, got {learning_rate}, {l2}")
        self.epochs, self.batch_size, self.learning_rate, self.l2 = epochs, batch_size, learning_rate, l2
        self.decay_rate, self.decay_epoch = decay_rate, decay_epoch
        self.protocol, self.field, self.parties, self.config = protocol, field, parties, config
        self.coef_: np.ndarray | None = None
        self.intercept_: float | None = None
        self.stats_: Any = None  # veil run statistics of the last secure call (fit or predict)
        self.fit_stats_: Any = None  # ... of the last secure training
        self._secret_fit: tuple[list[np.ndarray], np.ndarray] | None = None

    # ---- what subclasses provide -------------------------------------------------------------
    @abstractmethod
    def _residual(self, z: Array, y: Array) -> Array:
        """d loss / d z for linear predictor z (per row)."""

    @abstractmethod
    def _mean(self, z: Array) -> Array:
        """The model's prediction from the linear predictor (inverse link)."""

    def _init_intercept(self, y: Array) -> Array:
        return jnp.zeros((), y.dtype)

    def _approx(self) -> dict[str, Any]:
        """ApproxConfig fields this model wants changed."""
        return {}

    def _scale_steps(self) -> bool:
        return False

    # ---- the secure program ------------------------------------------------------------------
    def _runtime_config(self) -> Any:
        cfg = self.config
        if cfg is None:
            proto = str(self.protocol).lower()
            parties = self.parties or (3 if proto == "aby3" else 2)
            cfg = veil.RuntimeConfig(protocol=proto, field=self.field, world_size=parties)
        changes = self._approx()
        return cfg.with_(approx=replace(cfg.approx, **changes)) if changes else cfg

    def _train_fn(self, n: int) -> Callable[[list[Array], Array], tuple[Array, Array]]:
        """The pure JAX training function for n rows (traced once by veil.jit or jax.jit)."""
        pad, weight = batch_layout(n, self.batch_size)
        nb, b = weight.shape
        lrs = lr_schedule(self.epochs, self.learning_rate, self.decay_rate, self.decay_epoch)
        l2, scale_steps = self.l2, self._scale_steps()

        def grads(w: Array, c: Array, batch: tuple[Array, ...]) -> tuple[Array, Array]:
            xb, yb, wb = batch
            r = self._residual(xb @ w + c, yb) * wb
            return xb.T @ r, jnp.sum(r)

        def epoch(carry: tuple[Array, Array], xs: tuple[Array, ...], first: bool) -> Any:
            def step(wc: tuple[Array, Array], batch: tuple[Array, ...]) -> Any:
                w, c = wc
                gw, gc = grads(w, c, batch[:3])
                dk = batch[3] if scale_steps and not first else None
                if scale_steps and first:
                    dk = jax.lax.rsqrt(jnp.sum(gw * gw) + gc * gc + 1e-4)
                s = xs[0] if dk is None else xs[0] * dk
                return (w - s * gw - xs[0] * l2 * w, c - s * gc), dk

            return jax.lax.scan(step, carry, xs[1])

        def train(x_parts: list[Array], y: Array) -> tuple[Array, Array]:
            x = jnp.concatenate(x_parts, axis=1)
            d = x.shape[1]
            if pad:
                x = jnp.concatenate([x, jnp.zeros((pad, d), x.dtype)])
                y = jnp.concatenate([y, jnp.zeros((pad,), y.dtype)])
            data = (x.reshape(nb, b, d), y.reshape(nb, b), jnp.asarray(weight))
            carry = (jnp.zeros((d,), x.dtype), self._init_intercept(y[:n]))
            carry, dks = epoch(carry, (lrs[0], data), first=True)
            if len(lrs) > 1:
                batches = data + (dks,) if scale_steps else data

                def later(c: Any, lr: Array) -> Any:
                    return epoch(c, (lr, batches), first=False)[0], None

                carry, _ = jax.lax.scan(later, carry, jnp.asarray(lrs[1:]))
            return carry

        return train

    def _run(self, fn: Callable[..., Any], args: tuple[Any, ...], secure: bool) -> Any:
        if not secure:
            return jax.tree_util.tree_map(np.asarray, jax.jit(fn)(*args))
        f = veil.jit(fn, config=self._runtime_config())
        out = f(*args)
        self.stats_ = f.stats
        return out

    # ---- sklearn-like API --------------------------------------------------------------------
    def fit(self, x_parts: Sequence[Any], y: Any, reveal: bool = True, secure: bool = True) -> Any:
        """Train on a vertical partition. `reveal=False` keeps the model secret (see module doc);
        `secure=False` runs the identical program in plaintext JAX (for comparison)."""
        parts, yv = _check_parts(x_parts, y)
        if yv is None:
            raise ValueError("fit needs labels y")
        self.n_features_in_ = sum(p.shape[1] for p in parts)
        if not reveal:
            self._secret_fit, self.coef_, self.intercept_ = (parts, yv), None, None
            return self
        w, c = self._run(self._train_fn(len(yv)), (parts, yv), secure)
        self.coef_, self.intercept_, self._secret_fit = np.asarray(w), float(c), None
        self.fit_stats_ = self.stats_ if secure else None
        return self

    def decision_function(self, x_parts: Sequence[Any], secure: bool = True) -> np.ndarray:
        """Linear predictor x @ w + b, computed securely on secret features (and secret weights)."""
        return self._predict(x_parts, lambda z: z, secure)

    def _predict(self, x_parts: Sequence[Any], head: Callable[[Array], Array], secure: bool) -> np.ndarray:
        parts, _ = _check_parts(x_parts)
        if sum(p.shape[1] for p in parts) != getattr(self, "n_features_in_", -1):
            raise ValueError(
                "x_parts do not match the fitted features (or the model is not fitted: call fit)"
            )
        if self._secret_fit is not None:
            train_parts, train_y = self._secret_fit
            train = self._train_fn(len(train_y))

            def fused(tp: list[Array], ty: Array, xp: list[Array]) -> Array:
                w, c = train(tp, ty)
                return head(jnp.concatenate(xp, axis=1) @ w + c)

            return np.asarray(self._run(fused, (train_parts, train_y, parts), secure))

        def predict(xp: list[Array], w: Array, c: Array) -> Array:
            return head(jnp.concatenate(xp, axis=1) @ w + c)

        args = (parts, self.coef_, np.asarray(self.intercept_))
        return np.asarray(self._run(predict, args, secure))


class SSLogisticRegression(_SSLinearBase):
    """Binary logistic regression (labels 0/1) by secure mini-batch SGD.

    sigmoid: veil's approximation of the secure sigmoid ("exact" 1/(1+e^-x), "segments"
    piecewise linear, "polynomial"); strategy: "naive_sgd" or "policy_sgd" (see module doc).
    """

    def __init__(
        self, *args: Any, sigmoid: str = "exact", strategy: str = "naive_sgd", **kwargs: Any
    ) -> None:
        if sigmoid not in _SIGMOIDS:
            raise ValueError(f"sigmoid={sigmoid!r}: choose one of {_SIGMOIDS}")
        if strategy not in ("naive_sgd", "policy_sgd"):
            raise ValueError(f"strategy={strategy!r}: choose 'naive_sgd' or 'policy_sgd'")
        if strategy == "policy_sgd" and kwargs.get("decay_rate") is None:
            kwargs.update(decay_rate=0.5, decay_epoch=kwargs.get("decay_epoch") or 5)
        super().__init__(*args, **kwargs)
        self.sigmoid, self.strategy = sigmoid, strategy

    def _residual(self, z: Array, y: Array) -> Array:
        return jax.nn.sigmoid(z) - y

    def _mean(self, z: Array) -> Array:
        return jax.nn.sigmoid(z)

    def _approx(self) -> dict[str, Any]:
        return {"sigmoid": self.sigmoid}

    def _scale_steps(self) -> bool:
        return self.strategy == "policy_sgd"

    def predict_proba(self, x_parts: Sequence[Any], secure: bool = True) -> np.ndarray:
        """(n, 2) class probabilities, as sklearn."""
        p1 = self._predict(x_parts, self._mean, secure)
        return np.stack([1.0 - p1, p1], axis=1)

    def predict(self, x_parts: Sequence[Any], secure: bool = True) -> np.ndarray:
        return (self.decision_function(x_parts, secure) > 0).astype(np.int64)


class SSLinearRegression(_SSLinearBase):
    """Least-squares (ridge with l2 > 0) regression by secure mini-batch SGD."""

    def _residual(self, z: Array, y: Array) -> Array:
        return z - y

    def _mean(self, z: Array) -> Array:
        return z

    def predict(self, x_parts: Sequence[Any], secure: bool = True) -> np.ndarray:
        return self.decision_function(x_parts, secure)


class SSGLM(_SSLinearBase):
    """Generalised linear model with log link: Poisson (power=1) or Tweedie (1 < power < 2).

    mu = exp(x @ w + b). Gradient of the mean half-deviance: x^T (mu^(2-p) - y mu^(1-p)) / n,
    i.e. x^T (mu - y) / n for Poisson. exp is the costly and accuracy-critical op here, so the
    default uses veil's accurate range-reduced exp (`exp="pade"`); "taylor" is SPU's cheaper
    (1 + x/2^n)^(2^n), ~1% off at |x| = 3. The intercept starts at log(mean(y)).
    """

    def __init__(self, *args: Any, power: float = 1.0, exp: str = "pade", **kwargs: Any) -> None:
        if not (power == 1.0 or 1.0 < power < 2.0):
            raise ValueError(f"power={power}: use 1 (Poisson) or a Tweedie power in (1, 2)")
        super().__init__(*args, **kwargs)
        self.power, self.exp = power, exp

    def _residual(self, z: Array, y: Array) -> Array:
        p = self.power
        if p == 1.0:
            return jnp.exp(z) - y
        return jnp.exp((2.0 - p) * z) - y * jnp.exp((1.0 - p) * z)

    def _mean(self, z: Array) -> Array:
        return jnp.exp(z)

    def _init_intercept(self, y: Array) -> Array:
        return jnp.log(jnp.mean(y))

    def _approx(self) -> dict[str, Any]:
        return {"exp": self.exp}

    def predict(self, x_parts: Sequence[Any], secure: bool = True) -> np.ndarray:
        """Expected value exp(x @ w + b)."""
        return self._predict(x_parts, self._mean, secure)
