"""Run every conformance record through veil.jit and compare with plaintext JAX.

Fast configs (default suite): ref2k and semi2k 2PC on FM64. Every other protocol x field x
world-size combination is marked slow (run by `make test-slow` and CI).
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

import veil
from tests.conformance.table import TABLE, Rec, expected, make_inputs

CONFIGS = {
    "ref2k-FM64": dict(protocol="ref2k", field="FM64", parties=1),
    "semi2k2-FM64": dict(protocol="semi2k", field="FM64", parties=2),
    "semi2k3-FM64": dict(protocol="semi2k", field="FM64", parties=3),
    "aby3-FM64": dict(protocol="aby3", field="FM64", parties=3),
    "ref2k-FM128": dict(protocol="ref2k", field="FM128", parties=1),
    "semi2k2-FM128": dict(protocol="semi2k", field="FM128", parties=2),
    "semi2k3-FM128": dict(protocol="semi2k", field="FM128", parties=3),
    "aby3-FM128": dict(protocol="aby3", field="FM128", parties=3),
}
FAST = {"ref2k-FM64", "semi2k2-FM64"}


def _params():
    for key in CONFIGS:
        for rec in TABLE:
            marks = [] if key in FAST else [pytest.mark.slow]
            yield pytest.param(key, rec, id=f"{key}-{rec.name}", marks=marks)


def check_record(rec: Rec, config_key: str) -> None:
    """Run one record under one config; raise AssertionError on a mismatch."""
    inputs = make_inputs(rec)
    want = expected(rec, inputs)
    got = veil.jit(rec.fn, **CONFIGS[config_key])(*inputs)
    for w, g in zip(jax.tree_util.tree_leaves(want), jax.tree_util.tree_leaves(got)):
        w, g = np.asarray(w), np.asarray(g)
        assert g.shape == w.shape, f"{rec.name}: shape {g.shape} != {w.shape}"
        if w.dtype.kind == "f":
            np.testing.assert_allclose(g, w, atol=rec.atol, rtol=rec.rtol, err_msg=rec.name)
        else:
            np.testing.assert_array_equal(g.astype(w.dtype), w, err_msg=rec.name)


@pytest.mark.parametrize("config_key,rec", list(_params()))
def test_conformance(config_key: str, rec: Rec) -> None:
    if config_key in rec.skip:
        pytest.skip(rec.skip[config_key])
    check_record(rec, config_key)


def test_table_is_large_enough() -> None:
    assert len(TABLE) >= 60
    assert len({r.name for r in TABLE}) == len(TABLE)
