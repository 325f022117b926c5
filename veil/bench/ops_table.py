"""The operator table both benchmark sides run: JAX function, deterministic inputs, float64 oracle.

Shared by `veil bench ops` and benchmarks/spu/run_spu_ops.py (which loads this file by path
inside SPU's own venv: numpy 1.26 / jax 0.4.34), so it imports only numpy and jax, never veil.
Inputs are evenly spaced over the stated range in a fixed scrambled order (no RNG needed, same
inputs on both sides): values in (-5, 5) or (0.1, 10) as in shared/REFERENCE.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

SIGNED = (-5.0, 5.0)
POSITIVE = (0.1, 10.0)
MATMUL_DIM = 256
SOFTMAX_ROW = 100


@dataclass(frozen=True)
class OpSpec:
    """One benchmarked operator.

    `per_call` ops (matmul) report bytes per call instead of per element; `exp_mode` selects the
    exp approximation (taylor / pade / prime); `only` restricts the (protocol, field) configs.
    """

    name: str
    ranges: tuple[tuple[float, float], ...]
    fn: Callable[..., object]
    ref: Callable[..., np.ndarray]
    exp_mode: str | None = None
    per_call: bool = False
    only: tuple[tuple[str, str], ...] | None = None
    boolean: bool = False

    def supports(self, protocol: str, field: str) -> bool:
        return self.only is None or (protocol, field) in self.only


def spread(lo: float, hi: float, n: int, salt: int = 0) -> np.ndarray:
    """n evenly spaced points strictly inside (lo, hi), permuted by a fixed stride (coprime to n)."""
    base = lo + (hi - lo) * (np.arange(n, dtype=np.float64) + 0.5) / n
    if n < 2:
        return base
    strides = [s for s in (7919, 104729, 1299709, 15485863) if math.gcd(s, n) == 1]
    stride = strides[salt % len(strides)]
    offset = (salt * 977) % n
    return base[(np.arange(n, dtype=np.int64) * stride + offset) % n]


def make_inputs(spec: OpSpec, n: int) -> tuple[np.ndarray, ...]:
    """The op's arguments for n elements (matmul: two 256x256 matrices; softmax: rows of 100)."""
    if spec.name == "matmul":
        m = MATMUL_DIM * MATMUL_DIM
        return tuple(
            spread(lo, hi, m, salt=i).reshape(MATMUL_DIM, MATMUL_DIM)
            for i, (lo, hi) in enumerate(spec.ranges)
        )
    if spec.name == "softmax":
        rows = max(1, n // SOFTMAX_ROW)
        return (spread(*spec.ranges[0], rows * SOFTMAX_ROW).reshape(rows, SOFTMAX_ROW),)
    return tuple(spread(lo, hi, n, salt=i) for i, (lo, hi) in enumerate(spec.ranges))


def elements(spec: OpSpec, n: int) -> int:
    """The divisor for per-element costs (1 for per-call ops, the actual element count otherwise)."""
    if spec.per_call:
        return 1
    if spec.name == "softmax":
        return max(1, n // SOFTMAX_ROW) * SOFTMAX_ROW
    return n


def _jnp():  # type: ignore[no-untyped-def]
    import jax.numpy as jnp

    return jnp


def _mul(x, y):  # type: ignore[no-untyped-def]
    return x * y


def _matmul(x, y):  # type: ignore[no-untyped-def]
    return x @ y


def _less(x, y):  # type: ignore[no-untyped-def]
    return x < y


def _relu(x):  # type: ignore[no-untyped-def]
    return _jnp().maximum(x, 0.0)


def _exp(x):  # type: ignore[no-untyped-def]
    return _jnp().exp(x)


def _log(x):  # type: ignore[no-untyped-def]
    return _jnp().log(x)


def _reciprocal(x):  # type: ignore[no-untyped-def]
    return 1.0 / x


def _division(x, y):  # type: ignore[no-untyped-def]
    return x / y


def _sqrt(x):  # type: ignore[no-untyped-def]
    return _jnp().sqrt(x)


def _rsqrt(x):  # type: ignore[no-untyped-def]
    import jax

    return jax.lax.rsqrt(x)


def _sigmoid(x):  # type: ignore[no-untyped-def]
    import jax

    return jax.nn.sigmoid(x)


def _tanh(x):  # type: ignore[no-untyped-def]
    return _jnp().tanh(x)


def _softmax(x):  # type: ignore[no-untyped-def]
    # written out (not jax.nn.softmax): jax 0.4.34's version has a select SPU 0.9.5 rejects
    jnp = _jnp()
    e = jnp.exp(x - jnp.max(x, axis=-1, keepdims=True))
    return e / jnp.sum(e, axis=-1, keepdims=True)


def _gelu(x):  # type: ignore[no-untyped-def]
    import jax

    return jax.nn.gelu(x, approximate=True)


def _softmax_ref(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _gelu_ref(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


SEMI2K_FM128 = (("semi2k", "FM128"),)

OPS: dict[str, OpSpec] = {
    s.name: s
    for s in [
        OpSpec("mul", (SIGNED, SIGNED), _mul, lambda x, y: x * y),
        OpSpec("matmul", (SIGNED, SIGNED), _matmul, lambda x, y: x @ y, per_call=True),
        OpSpec("less", (SIGNED, SIGNED), _less, lambda x, y: (x < y).astype(np.float64), boolean=True),
        OpSpec("relu", (SIGNED,), _relu, lambda x: np.maximum(x, 0.0)),
        OpSpec("exp", (SIGNED,), _exp, np.exp, exp_mode="taylor"),
        OpSpec("exp_pade", (SIGNED,), _exp, np.exp, exp_mode="pade"),
        OpSpec("exp_prime", (SIGNED,), _exp, np.exp, exp_mode="prime", only=SEMI2K_FM128),
        OpSpec("log", (POSITIVE,), _log, np.log),
        OpSpec("reciprocal", (POSITIVE,), _reciprocal, lambda x: 1.0 / x),
        OpSpec("division", (SIGNED, POSITIVE), _division, lambda x, y: x / y),
        OpSpec("sqrt", (POSITIVE,), _sqrt, np.sqrt),
        OpSpec("rsqrt", (POSITIVE,), _rsqrt, lambda x: 1.0 / np.sqrt(x)),
        OpSpec("sigmoid", (SIGNED,), _sigmoid, lambda x: 1.0 / (1.0 + np.exp(-x))),
        OpSpec("tanh", (SIGNED,), _tanh, np.tanh),
        OpSpec("softmax", (SIGNED,), _softmax, _softmax_ref),
        OpSpec("gelu", (SIGNED,), _gelu, _gelu_ref),
    ]
}

# (protocol, field, parties) configurations, named as in the report
CONFIGS: dict[str, tuple[str, str, int]] = {
    "semi2k_fm64": ("semi2k", "FM64", 2),
    "semi2k_fm128": ("semi2k", "FM128", 2),
    "aby3_fm64": ("aby3", "FM64", 3),
}

EXP_METHODS = ("taylor", "pade", "prime")
RANGE_POINTS = 10_000


def abs_errors(got: object, spec: OpSpec, args: tuple[np.ndarray, ...]) -> tuple[float, float]:
    """(max, mean) absolute error of a revealed result against the float64 oracle."""
    want = spec.ref(*args)
    diff = np.abs(np.asarray(got, dtype=np.float64).reshape(want.shape) - want)
    return float(diff.max()), float(diff.mean())


def range_score(got: np.ndarray, want: np.ndarray) -> dict[str, float]:
    """The exp benchmark's valid-range score: six fractions (rel < 5%, 1%, 0.05%; abs < 5, 1, 0.05), mean."""
    got = np.asarray(got, dtype=np.float64)
    err = np.abs(got - want)
    rel = err / np.abs(want)
    fr = {
        "rel_5pct": float(np.mean(rel < 0.05)),
        "rel_1pct": float(np.mean(rel < 0.01)),
        "rel_0.05pct": float(np.mean(rel < 0.0005)),
        "abs_5": float(np.mean(err < 5)),
        "abs_1": float(np.mean(err < 1)),
        "abs_0.05": float(np.mean(err < 0.05)),
    }
    fr["range_score"] = float(np.mean(list(fr.values())))
    return fr


def error_stats(got: np.ndarray, want: np.ndarray) -> dict[str, float]:
    """MSE, MAE and mean relative error (MAPE, as a fraction) of got against want."""
    err = np.asarray(got, dtype=np.float64) - want
    return {
        "mse": float(np.mean(err**2)),
        "mae": float(np.mean(np.abs(err))),
        "mape": float(np.mean(np.abs(err) / np.abs(want))),
    }
