"""Dispatchers: the exported names, plaintext evaluation of PUBLIC/PRIVATE inputs, config modes."""

from __future__ import annotations

import math

import numpy as np
import pytest

import veil.hal.approx as A
from tests.hal.approx._common import cfg_for
from tests.hal.approx._params import BASE
from tests.hal.runner import INT, private, public, run, secret
from veil.config import ApproxConfig
from veil.errors import ConfigError

UNARY = {
    "f_exp": np.exp,
    "f_log": np.log,
    "f_log1p": np.log1p,
    "f_expm1": np.expm1,
    "f_reciprocal": lambda v: 1.0 / v,
    "f_sqrt": np.sqrt,
    "f_rsqrt": lambda v: 1.0 / np.sqrt(v),
    "f_sigmoid": lambda v: 1.0 / (1.0 + np.exp(-v)),
    "f_tanh": np.tanh,
    "f_erf": np.vectorize(math.erf),
    "f_sin": np.sin,
    "f_cos": np.cos,
}
BINARY = {"f_div": np.divide, "f_pow": np.power}
X = np.linspace(0.25, 3.0, 12)


def test_exports() -> None:
    assert sorted(A.__all__) == sorted([*UNARY, *BINARY])
    for name in A.__all__:
        assert callable(getattr(A, name))


@pytest.mark.parametrize("proto,field", BASE)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_public_input_is_exact_and_free(proto: str, field: str, name: str) -> None:
    cfg = cfg_for(proto, field)
    r = run(cfg, lambda c, v: getattr(A, name)(c, v), public(X))
    assert r.values[0][0].is_public
    assert all(s.online.bytes_sent == 0 and s.rounds == 0 for s in r.stats)
    np.testing.assert_allclose(r.outputs[0], UNARY[name](X), atol=2.0**-cfg.f)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_public_binary(name: str) -> None:
    cfg = cfg_for("semi2k", "FM64")
    r = run(cfg, lambda c, u, v: getattr(A, name)(c, u, v), public(X), public(X[::-1]))
    assert r.values[0][0].is_public and r.stats[0].online.bytes_sent == 0
    np.testing.assert_allclose(r.outputs[0], BINARY[name](X, X[::-1]), rtol=1e-5, atol=2.0**-cfg.f)


@pytest.mark.parametrize("name", ["f_exp", "f_sigmoid", "f_log"])
def test_private_input_is_evaluated_by_its_owner(name: str) -> None:
    cfg = cfg_for("semi2k", "FM64")
    r = run(cfg, lambda c, v: getattr(A, name)(c, v), private(X, owner=1))
    assert r.values[1][0].payload is not None and r.values[0][0].payload is None
    assert r.values[1][0].owner == 1 and r.stats[0].online.bytes_sent == 0
    np.testing.assert_allclose(r.outputs[0], UNARY[name](X), atol=2.0**-cfg.f)


def test_int_input_is_converted() -> None:
    cfg = cfg_for("ref2k", "FM64")
    r = run(cfg, lambda c, v: A.f_sqrt(c, v), secret(np.array([1, 4, 9, 100]), dtype=INT))
    np.testing.assert_allclose(r.outputs[0], [1, 2, 3, 10], atol=1e-4)


def test_config_validation() -> None:
    with pytest.raises(ConfigError, match="normalize_stages"):
        ApproxConfig(normalize_stages=3)
    with pytest.raises(ConfigError, match="sigmoid"):
        ApproxConfig(sigmoid="tables")  # type: ignore[arg-type]


def test_pub_int_is_cached_read_only_and_exact() -> None:
    """pub_int caches its arrays read-only per (field, ints, shape); values are the ints mod 2^k."""
    from veil.config import Field, RuntimeConfig
    from veil.hal.approx._kit import pub_int
    from veil.mpc import ring
    from veil.mpc.context import ProtocolContext

    for field in (Field.FM64, Field.FM128):
        ctx = ProtocolContext(0, 1, None, None, RuntimeConfig(protocol="ref2k", field=field), None)  # type: ignore[arg-type]
        big = [3, -1, 1 << 70, 0]
        a = pub_int(ctx, big, (4, 1))
        b = pub_int(ctx, list(big), (4, 1))
        assert a.payload is b.payload and not a.payload.flags.writeable
        assert a.shape == (4, 1) and ring.to_pyints(a.payload.reshape(-1)) == [
            v % (1 << field.bits) for v in big
        ]
        assert pub_int(ctx, big, (2, 2)).shape == (2, 2)
        assert pub_int(ctx, 5, ()).payload.shape == () and ring.to_pyints(pub_int(ctx, -2, ()).payload) == (
            (1 << field.bits) - 2
        )
