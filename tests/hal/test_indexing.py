"""gather / scatter / scatter_add with public indices vs jax.lax on the same dimension numbers."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from tests.hal.runner import INT, config, params, public, run, secret
from veil.hal import indexing as X

RNG = np.random.default_rng(5)
OP = np.round(RNG.uniform(-3, 3, (4, 5)), 3)
TOL = 1e-5


CASES = [
    lambda x: x[jnp.array([2, 0, 2])],
    lambda x: jnp.take(x, jnp.array([4, 1]), axis=1),
    lambda x: x[jnp.array([[0, 1], [3, 3]]), jnp.array([[4, 0], [2, 2]])],
    lambda x: x[1:3, jnp.array([0, 4, 4])],
    lambda x: jnp.take(x, jnp.array([7, -1, 2]), axis=0, mode="fill", fill_value=0.0),
    lambda x: jnp.take(x, jnp.array([7, -1, 2]), axis=0, mode="clip"),
]


@pytest.mark.parametrize("proto,field", params(extra=True))
@pytest.mark.parametrize("case", range(len(CASES)))
def test_gather_matches_jax(proto: str, field: str, case: int) -> None:
    fn = CASES[case]
    eqn, vals = _capture(fn, [OP], ("gather",))
    idx, p = np.asarray(vals[1]), eqn.params

    def body(ctx, x, i):  # type: ignore[no-untyped-def]
        return X.gather(ctx, x, i, p["dimension_numbers"], p["slice_sizes"], p["mode"], p["fill_value"])

    r = run(config(proto, field), body, secret(OP), public(idx, INT))
    np.testing.assert_allclose(r.outputs[0], np.asarray(fn(OP)), atol=TOL)


SCATTERS = [
    (lambda x, u: x.at[jnp.array([0, 2, 0])].add(u), (3, 5)),
    (lambda x, u: x.at[:, jnp.array([1, 1, 4])].add(u), (4, 3)),
    (lambda x, u: x.at[jnp.array([0, 9, 3])].add(u, mode="drop"), (3, 5)),
    (lambda x, u: x.at[jnp.array([1, 3])].set(u), (2, 5)),
    (lambda x, u: x.at[1:3].set(u), (2, 5)),
]


def _capture(fn, args, names):  # type: ignore[no-untyped-def]
    """Evaluate fn's jaxpr up to the first eqn named in `names`; return it and its input values."""
    import jax

    closed = jax.make_jaxpr(fn)(*args)
    found = _walk(closed.jaxpr, closed.consts, args, names)
    if found is None:
        raise AssertionError(f"no {names} in {closed}")
    return found


def _walk(jaxpr, consts, args, names):  # type: ignore[no-untyped-def]
    env = dict(zip(jaxpr.constvars, consts))
    env.update(zip(jaxpr.invars, args))
    for e in jaxpr.eqns:
        vals = [v.val if hasattr(v, "val") else env[v] for v in e.invars]
        if e.primitive.name in names:
            return e, vals
        sub = e.params.get("jaxpr")
        if sub is not None and hasattr(sub, "jaxpr"):
            found = _walk(sub.jaxpr, sub.consts, vals, names)
            if found is not None:
                return found
        outs = e.primitive.bind(*vals, **e.params)
        env.update(zip(e.outvars, outs if e.primitive.multiple_results else [outs]))
    return None


@pytest.mark.parametrize("proto,field", params(extra=True))
@pytest.mark.parametrize("case", range(len(SCATTERS)))
def test_scatter_matches_jax(proto: str, field: str, case: int) -> None:
    fn, ushape = SCATTERS[case]
    upd = np.round(RNG.uniform(-2, 2, ushape), 3)
    eqn, vals = _capture(fn, [OP, upd], ("scatter-add", "scatter_add", "scatter"))
    idx, upd2, p = np.asarray(vals[1]), np.asarray(vals[2]), eqn.params
    op = X.scatter if eqn.primitive.name == "scatter" else X.scatter_add

    def body(ctx, x, i, u):  # type: ignore[no-untyped-def]
        return op(ctx, x, i, u, p["dimension_numbers"], p["mode"])

    r = run(config(proto, field), body, secret(OP), public(idx, INT), secret(upd2))
    np.testing.assert_allclose(r.outputs[0], np.asarray(fn(jnp.asarray(OP), jnp.asarray(upd))), atol=TOL)


def test_gather_secret_indices_fail() -> None:
    from veil.errors import UnsupportedOpError

    dn = lax.GatherDimensionNumbers((1,), (0,), (0,))
    with pytest.raises(UnsupportedOpError, match="indices are secret"):
        run(
            config("ref2k", world=1),
            lambda ctx, x, i: X.gather(ctx, x, i, dn, (1, 5)),
            secret(OP),
            secret(np.array([[1]]), INT),
        )


def test_dimension_numbers_as_dict() -> None:
    dn = {"offset_dims": (1,), "collapsed_slice_dims": (0,), "start_index_map": (0,)}
    r = run(
        config("ref2k", world=1),
        lambda ctx, x, i: X.gather(ctx, x, i, dn, (1, 5), "clip"),
        secret(OP),
        public(np.array([[3], [0]]), INT),
    )
    np.testing.assert_allclose(r.outputs[0], OP[[3, 0]], atol=TOL)
