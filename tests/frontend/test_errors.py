"""Errors name the primitive and the user's file:line; unsupported inputs fail clearly."""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from veil.errors import CompileError, UnsupportedOpError
from veil.frontend import to_ir, trace

X = np.linspace(-1, 1, 6).astype(np.float32)


def _sort_fn(x):
    y = x * 2
    return jax.lax.sort((y, x), num_keys=2)  # the unsupported line: a two-key sort


def test_unsupported_primitive_names_op_and_user_line() -> None:
    line = inspect.getsourcelines(_sort_fn)[1] + 2
    with pytest.raises(UnsupportedOpError) as info:
        to_ir(trace(_sort_fn, (X,), {}))
    err = info.value
    assert err.op == "sort"
    assert err.where == f"{__file__}:{line}"
    msg = str(err)
    assert "unsupported op 'sort'" in msg and f"test_errors.py:{line}" in msg and "combine the keys" in msg


def test_unsupported_inside_nested_jaxpr_reports_the_user_line() -> None:
    def f(x):
        return jax.jit(lambda z: jnp.cbrt(z))(x)

    with pytest.raises(UnsupportedOpError, match=r"'cbrt' \(from .*test_errors.py:\d+\)"):
        to_ir(trace(f, (X,), {}))


def test_unsupported_linalg_and_random() -> None:
    with pytest.raises(UnsupportedOpError):
        to_ir(trace(jnp.linalg.inv, (np.eye(3, dtype=np.float32),), {}))
    with pytest.raises(UnsupportedOpError, match="random_bits|threefry|random_wrap|random_seed"):
        to_ir(trace(lambda x: x + jax.random.uniform(jax.random.key(0), (6,)), (X,), {}))


def test_unsupported_input_dtype() -> None:
    with pytest.raises(UnsupportedOpError, match="complex64"):
        to_ir(trace(lambda z: z * 2, (np.ones(2, np.complex64),), {}))


def test_compile_errors_are_veil_errors() -> None:
    assert issubclass(UnsupportedOpError, CompileError)
