"""The op conformance table: one record per JAX function and shape, in the style of SPU's REC.

Each record runs through veil.jit and is compared with plaintext JAX (float64 numpy on the same
inputs) within its stated tolerance. `tests/conformance/test_conformance.py` runs it over
protocol x field x world size; `tests/conformance/gen_docs.py` renders docs/ops.md from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

S, V, M, B = (), (7,), (3, 4), (2, 3, 4)


@dataclass(frozen=True)
class Rec:
    name: str
    fn: Callable
    shapes: tuple[tuple[int, ...], ...]  # one shape per argument
    low: float = -3.0
    high: float = 3.0
    atol: float = 2e-3
    rtol: float = 1e-3
    ints: bool = False  # integer inputs
    family: str = "elementwise"
    skip: dict[str, str] = field(default_factory=dict)  # config key -> reason


def _sel(c, a, b):
    return jnp.where(c > 0, a, b)


def _cond(p, x):
    return lax.cond(p[0] > 0, lambda v: v * 2.0, lambda v: v - 1.0, x)


def _scan(x):
    def body(c, v):
        c = c + v
        return c, c * 0.5

    return lax.scan(body, jnp.zeros(x.shape[1:]), x)


def _fori(x):
    return lax.fori_loop(0, 4, lambda i, v: v * 0.5 + 1.0, x)


def _while_public(x):
    return lax.while_loop(lambda c: c[0] < 5, lambda c: (c[0] + 1, c[1] * 0.9), (0, x))[1]


def _layernorm(x):
    mu = jnp.mean(x, axis=-1, keepdims=True)
    var = jnp.mean((x - mu) ** 2, axis=-1, keepdims=True)
    return (x - mu) * lax.rsqrt(var + 1e-5)


def _attention(q, k):
    return jax.nn.softmax(q @ k.T / 2.0, axis=-1)


TABLE: list[Rec] = [
    # arithmetic
    Rec("add", jnp.add, (M, M)),
    Rec("add_scalar_bcast", lambda x: x + 1.5, (B,)),
    Rec("sub", jnp.subtract, (V, V)),
    Rec("mul", jnp.multiply, (M, M)),
    Rec("mul_bcast", jnp.multiply, (M, (4,))),
    Rec("mul_int_const", lambda x: x * 3, (V,)),
    Rec("div", jnp.divide, (V, V), low=0.5, high=4.0, atol=5e-3, rtol=5e-3),
    Rec("div_const", lambda x: x / 3.0, (M,)),
    Rec("neg", jnp.negative, (B,)),
    Rec("abs", jnp.abs, (V,)),
    Rec("sign", jnp.sign, (V,)),
    Rec("square", jnp.square, (M,)),
    Rec("integer_pow3", lambda x: x**3, (V,), low=-2, high=2, atol=5e-3),
    Rec("pow", jnp.power, (V, V), low=0.5, high=2.0, atol=2e-2, rtol=2e-2),
    Rec("reciprocal", jnp.reciprocal, (V,), low=0.2, high=8.0, atol=5e-3, rtol=5e-3),
    Rec("maximum", jnp.maximum, (M, M)),
    Rec("minimum", jnp.minimum, (M, M)),
    Rec("clip", lambda x: jnp.clip(x, -1.0, 1.0), (B,)),
    Rec("floor", jnp.floor, (V,), low=-3.3, high=3.3),
    Rec("ceil", jnp.ceil, (V,), low=-3.3, high=3.3),
    Rec("round", jnp.round, (V,), low=-3.3, high=3.3),
    # nonlinear
    Rec("exp", jnp.exp, (V,), low=-4, high=2, atol=2e-2, rtol=2e-2),
    Rec("log", jnp.log, (V,), low=0.1, high=10.0, atol=5e-3),
    Rec("log1p", jnp.log1p, (V,), low=0.0, high=5.0, atol=5e-3),
    Rec("expm1", jnp.expm1, (V,), low=-2, high=1, atol=2e-2),
    Rec("tanh", jnp.tanh, (V,), atol=1e-2),
    Rec("sigmoid", jax.nn.sigmoid, (M,), atol=5e-3),
    Rec("logistic", lax.logistic, (V,), atol=5e-3),
    Rec("sqrt", jnp.sqrt, (V,), low=0.1, high=10.0, atol=5e-3, rtol=5e-3),
    Rec("rsqrt", lax.rsqrt, (V,), low=0.1, high=10.0, atol=1e-2, rtol=5e-3),
    Rec("relu", jax.nn.relu, (B,)),
    Rec("gelu_tanh", lambda x: jax.nn.gelu(x, approximate=True), (V,), atol=1e-2),
    Rec("gelu_erf", lambda x: jax.nn.gelu(x, approximate=False), (V,), atol=1e-2),
    Rec("erf", lax.erf, (V,), atol=1e-2),
    Rec("sin", jnp.sin, (V,), atol=1e-2),
    Rec("cos", jnp.cos, (V,), atol=1e-2),
    Rec("softplus", jax.nn.softplus, (V,), atol=1e-2),
    # comparisons and selection
    Rec("less", jnp.less, (V, V), family="compare"),
    Rec("greater_equal", jnp.greater_equal, (M, M), family="compare"),
    Rec("equal_int", jnp.equal, (V, V), ints=True, low=-2, high=2, family="compare"),
    Rec("not_equal_int", jnp.not_equal, (V, V), ints=True, low=-2, high=2, family="compare"),
    Rec("where", _sel, (V, V, V), family="compare"),
    Rec("logical_and", lambda a, b: jnp.logical_and(a > 0, b > 0), (V, V), family="compare"),
    Rec("logical_or_not", lambda a, b: jnp.logical_or(a > 0, ~(b > 0)), (V, V), family="compare"),
    # integers
    Rec("int_add_mul", lambda a, b: a * b + a, (V, V), ints=True, low=-50, high=50, family="integer"),
    Rec(
        "int_to_float",
        lambda a: a.astype(jnp.float32) * 0.5,
        (V,),
        ints=True,
        low=-50,
        high=50,
        family="integer",
    ),
    Rec("float_to_int", lambda a: a.astype(jnp.int32), (V,), low=-9.5, high=9.5, family="integer"),
    # linear algebra
    Rec("matmul", jnp.matmul, ((3, 5), (5, 4)), family="linalg"),
    Rec("matvec", jnp.matmul, ((3, 5), (5,)), family="linalg"),
    Rec("dot_vec", jnp.dot, ((6,), (6,)), family="linalg"),
    Rec("batched_matmul", jnp.matmul, ((2, 3, 5), (2, 5, 4)), family="linalg"),
    Rec("einsum_bij_jk", lambda a, b: jnp.einsum("bij,jk->bik", a, b), ((2, 3, 5), (5, 4)), family="linalg"),
    Rec("outer", jnp.outer, ((3,), (4,)), family="linalg"),
    Rec(
        "matmul_public_weight", lambda x: x @ jnp.arange(20.0).reshape(5, 4) / 10, ((3, 5),), family="linalg"
    ),
    # shapes
    Rec("reshape", lambda x: x.reshape(4, 6), (B,), family="shape"),
    Rec("transpose", lambda x: jnp.transpose(x, (2, 0, 1)), (B,), family="shape"),
    Rec("broadcast_to", lambda x: jnp.broadcast_to(x, (3, 7)), (V,), family="shape"),
    Rec("expand_squeeze", lambda x: jnp.squeeze(jnp.expand_dims(x, 0), 0) + 1, (M,), family="shape"),
    Rec("concatenate", lambda a, b: jnp.concatenate([a, b], axis=1), (M, M), family="shape"),
    Rec("stack", lambda a, b: jnp.stack([a, b]), (V, V), family="shape"),
    Rec("slice", lambda x: x[1:3, ::2], ((4, 6),), family="shape"),
    Rec("split", lambda x: jnp.split(x, 2, axis=1)[1], ((3, 4),), family="shape"),
    Rec("flip", lambda x: jnp.flip(x, 1), (M,), family="shape"),
    Rec("pad", lambda x: jnp.pad(x, ((1, 0), (0, 2))), (M,), family="shape"),
    Rec("tile", lambda x: jnp.tile(x, (2, 1)), (M,), family="shape"),
    Rec("dynamic_slice", lambda x: lax.dynamic_slice(x, (1, 1), (2, 2)), (M,), family="shape"),
    Rec(
        "dynamic_update_slice",
        lambda x, u: lax.dynamic_update_slice(x, u, (1, 2)),
        (M, (2, 2)),
        family="shape",
    ),
    Rec("gather_index", lambda x: x[jnp.array([2, 0, 2])], (M,), family="indexing"),
    Rec("take_along", lambda x: jnp.take(x, jnp.array([3, 1]), axis=1), (M,), family="indexing"),
    Rec("scatter_add", lambda x, u: x.at[jnp.array([0, 2, 0])].add(u), (V, (3,)), family="indexing"),
    Rec("scatter_set", lambda x, u: x.at[1:3].set(u), (V, (2,)), family="indexing"),
    Rec("arange_mul", lambda x: x * jnp.arange(7.0), (V,), family="shape"),
    # reductions
    Rec("sum", lambda x: jnp.sum(x, axis=1), (B,), family="reduce"),
    Rec("sum_all", jnp.sum, (M,), family="reduce"),
    Rec("mean", lambda x: jnp.mean(x, axis=0), (M,), family="reduce"),
    Rec("max", lambda x: jnp.max(x, axis=-1), (B,), family="reduce"),
    Rec("min", jnp.min, (V,), family="reduce"),
    Rec("argmax", lambda x: jnp.argmax(x, axis=1), ((3, 6),), family="reduce"),
    Rec("argmin", jnp.argmin, (V,), family="reduce"),
    Rec("cumsum", lambda x: jnp.cumsum(x, axis=1), (M,), family="reduce"),
    Rec("var", lambda x: jnp.var(x, axis=1), (M,), family="reduce", atol=5e-3),
    Rec("softmax", lambda x: jax.nn.softmax(x, axis=-1), (M,), family="reduce", atol=1e-2),
    Rec("log_softmax", lambda x: jax.nn.log_softmax(x, axis=-1), (M,), family="reduce", atol=2e-2),
    Rec("logsumexp", lambda x: jax.nn.logsumexp(x, axis=-1), (M,), family="reduce", atol=2e-2),
    Rec("layernorm", _layernorm, ((2, 8),), family="reduce", atol=2e-2, rtol=2e-2),
    Rec("attention_softmax", _attention, ((3, 4), (5, 4)), family="reduce", atol=1e-2),
    # control flow
    Rec("cond_secret", _cond, ((1,), V), family="control"),
    Rec("scan", _scan, ((4, 3),), family="control"),
    Rec("fori_loop", _fori, (V,), family="control"),
    Rec("while_public", _while_public, (V,), family="control"),
    Rec("stop_gradient", lambda x: lax.stop_gradient(x) * 2.0, (V,), family="control"),
    # sorting networks, tournaments, broadcast division
    Rec("sort", lambda x: jnp.sort(x, axis=-1), (M,), family="sort"),
    Rec("sort_axis0", lambda x: jnp.sort(x, axis=0), (B,), family="sort"),
    Rec("sort_descending", lambda x: jnp.sort(x, descending=True), (V,), family="sort"),
    Rec("argsort", lambda x: jnp.argsort(x, axis=-1), ((3, 9),), family="sort"),
    Rec("argsort_ties_int", jnp.argsort, ((10,),), low=-2, high=2, ints=True, family="sort"),
    Rec("sort_key_val", lambda k, v: lax.sort_key_val(k, v)[1], (V, V), family="sort"),
    Rec("top_k", lambda x: lax.top_k(x, 3), ((3, 8),), family="sort"),
    Rec("max_rows_of_100", lambda x: jnp.max(x, axis=1), ((2, 100),), family="reduce"),
    Rec("cumlogsumexp", lambda x: lax.cumlogsumexp(x, axis=1), (M,), family="reduce", atol=1e-2),
    Rec(
        "div_by_row_sum",
        lambda x: x / jnp.sum(x, axis=1, keepdims=True),
        (M,),
        low=0.5,
        high=3.0,
        family="reduce",
        atol=5e-3,
        rtol=5e-3,
    ),
]


def make_inputs(rec: Rec, seed: int = 0) -> list[np.ndarray]:
    """Deterministic inputs for a record (test-only randomness)."""
    gen = np.random.default_rng(seed)
    out = []
    for shape in rec.shapes:
        if rec.ints:
            out.append(gen.integers(int(rec.low), int(rec.high) + 1, size=shape).astype(np.int32))
        else:
            out.append(gen.uniform(rec.low, rec.high, size=shape).astype(np.float32))
    return out


def expected(rec: Rec, inputs: list[np.ndarray]):
    """Plaintext JAX result (float32, JAX's default precision) on the same inputs."""
    return jax.tree_util.tree_map(np.asarray, rec.fn(*[jnp.asarray(a) for a in inputs]))
