"""Frontend rules for sorting, broadcast division and cumlogsumexp: lax.sort (argsort, several
operands), lax.top_k, `x / d` with a broadcast divisor becoming `div_bcast`, and the logaddexp
scan; checked against JAX."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from veil.errors import UnsupportedOpError

from .frontend_eval import check_against_jax, lower, ops

RNG = np.random.default_rng(11)
X = RNG.normal(size=(3, 7)).astype(np.float32)


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: jnp.sort(x, axis=0),
        lambda x: jnp.argsort(x, axis=1),
        lambda x: jnp.sort(x, axis=-1, descending=True),
        lambda x: jax.lax.sort_key_val(x, 2 * x, dimension=1),
        lambda x: jax.lax.top_k(x, 3),
        lambda x: jax.lax.top_k(x.T, 2),
    ],
    ids=["sort0", "argsort", "sort_desc", "sort_key_val", "top_k", "top_k_T"],
)
def test_sort_rules_match_jax(fn) -> None:  # type: ignore[no-untyped-def]
    check_against_jax(fn, (X,))


def test_argsort_is_one_sort_op_with_an_iota() -> None:
    prog = lower(lambda x: jnp.argsort(x, axis=1), X)
    (op,) = ops(prog, "sort")
    assert len(op.inputs) == 2 and len(op.outputs) == 2 and op.attrs["dimension"] == 1


def test_two_keys_are_a_clear_error() -> None:
    with pytest.raises(UnsupportedOpError, match="combine the keys"):
        lower(lambda x: jax.lax.sort((x, x), num_keys=2), X)


def test_softmax_division_is_broadcast() -> None:
    prog = check_against_jax(lambda x: jax.nn.softmax(x, axis=-1), (X,))
    (op,) = ops(prog, "div_bcast")
    assert op.inputs[1].type.size == 3 and not ops(prog, "div")


@pytest.mark.parametrize(
    "fn",
    [
        lambda x, s: x / s[:, None],
        lambda x, s: x / jnp.broadcast_to(s[:, None], x.shape),
        lambda x, s: x / s[0],
    ],
    ids=["implicit", "explicit_broadcast", "scalar"],
)
def test_broadcast_divisors(fn) -> None:  # type: ignore[no-untyped-def]
    s = RNG.uniform(1, 2, size=3).astype(np.float32)
    prog = check_against_jax(fn, (X, s))
    assert ops(prog, "div_bcast") and not ops(prog, "div")


def test_same_shape_division_stays_elementwise() -> None:
    prog = check_against_jax(lambda x, y: x / y, (X, X + 5.0))
    assert ops(prog, "div") and not ops(prog, "div_bcast")


@pytest.mark.parametrize("reverse", [False, True])
def test_cumlogsumexp_scan(reverse: bool) -> None:
    x = X.copy()
    x[0, 0] = -300.0  # a spread no single max-shift survives in fixed point
    prog = check_against_jax(lambda v: jax.lax.cumlogsumexp(v, axis=1, reverse=reverse), (x,), atol=1e-4)
    assert len(ops(prog, "log1p")) == 3  # ceil(log2 7) levels
