"""Sorting networks and tournaments (veil.hal.sort) against numpy: sort, stable argsort with ties,
several operands, descending, top-k, public / private keys, and the round counts."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tests.hal.runner import INT, params, private, public, run, secret
from veil.hal import sort as S
from veil.hal.shape import iota

RNG = np.random.default_rng(7)


def _apply(x: np.ndarray, n: int) -> np.ndarray:
    x = x.copy()
    for lo, hi in S.oddeven_layers(n):
        a, b = x[..., lo], x[..., hi]
        x[..., lo], x[..., hi] = np.minimum(a, b), np.maximum(a, b)
    return x


@pytest.mark.parametrize("n", range(1, 13))
def test_network_sorts_every_01_input(n: int) -> None:
    """0-1 principle: a comparator network that sorts all 2^n bit vectors sorts everything."""
    bits = np.array(list(itertools.product([0, 1], repeat=n)))
    np.testing.assert_array_equal(_apply(bits, n), np.sort(bits, axis=-1))


@pytest.mark.parametrize("n,layers", [(2, 1), (8, 6), (100, 28), (128, 28)])
def test_network_depth(n: int, layers: int) -> None:
    assert len(S.oddeven_layers(n)) == layers
    x = RNG.normal(size=(20, n))
    np.testing.assert_array_equal(_apply(x, n), np.sort(x, axis=-1))


@pytest.mark.parametrize("proto,field", params(extra=True))
def test_sort_secret(proto: str, field: str) -> None:
    from tests.hal.runner import config

    x = np.round(RNG.uniform(-4, 4, size=(3, 11)), 2)
    res = run(config(proto, field), lambda c, v: S.sort(c, [v], 1), secret(x))
    np.testing.assert_allclose(res.outputs[0], np.sort(x, axis=1), atol=2.0**-17)


@pytest.mark.parametrize("proto,field", params())
def test_argsort_is_stable_with_ties(proto: str, field: str) -> None:
    from tests.hal.runner import config

    x = RNG.integers(-2, 3, size=(4, 9)).astype(np.float64)  # many ties

    def fn(c, v):  # type: ignore[no-untyped-def]
        return S.sort(c, [v, iota(c, v.shape, 1, INT)], 1)

    res = run(config(proto, field), fn, secret(x))
    np.testing.assert_array_equal(res.outputs[1], np.argsort(x, axis=1, kind="stable"))
    np.testing.assert_allclose(res.outputs[0], np.sort(x, axis=1))


def test_two_operands_without_iota_are_stable() -> None:
    """A hidden index keeps equal keys in their input order (the payload shows the order)."""
    from tests.hal.runner import config

    k = np.array([2.0, 1.0, 2.0, 1.0, 0.0, 2.0])
    p = np.arange(6.0) * 10
    res = run(config("semi2k", "FM64"), lambda c, a, b: S.sort(c, [a, b], 0), secret(k), secret(p))
    order = np.argsort(k, kind="stable")
    np.testing.assert_allclose(res.outputs[1], p[order])


@pytest.mark.parametrize("axis", [0, 1])
def test_descending_along_axis(axis: int) -> None:
    from tests.hal.runner import config

    x = RNG.uniform(-1, 1, size=(6, 5))
    res = run(config("semi2k", "FM64"), lambda c, v: S.sort(c, [v], axis, descending=True), secret(x))
    np.testing.assert_allclose(res.outputs[0], -np.sort(-x, axis=axis), atol=2.0**-17)


@pytest.mark.parametrize("proto,field", params())
def test_top_k(proto: str, field: str) -> None:
    from tests.hal.runner import config

    x = np.array([[1.0, 3.0, 3.0, -2.0, 0.5, 3.0, 7.0], [0.0, 0.0, 0.0, 1.0, -1.0, 2.0, 2.0]])
    res = run(config(proto, field), lambda c, v: S.top_k(c, v, 3), secret(x))
    np.testing.assert_allclose(res.outputs[0], [[7, 3, 3], [2, 2, 1]])
    np.testing.assert_array_equal(res.outputs[1], [[6, 1, 2], [5, 6, 3]])


def test_public_key_permutes_secret_operands_locally() -> None:
    from tests.hal.runner import config

    k, v = np.array([3.0, 1.0, 2.0]), np.array([30.0, 10.0, 20.0])
    res = run(config("semi2k", "FM64"), lambda c, a, b: S.sort(c, [a, b], 0), public(k), secret(v))
    np.testing.assert_allclose(res.outputs[1], [10, 20, 30])
    assert res.stats[0].rounds == 0


def test_private_keys_are_sorted_by_their_owner() -> None:
    from tests.hal.runner import config

    k = np.array([3.0, -1.0, 2.0, 0.0])
    res = run(config("semi2k", "FM64"), lambda c, a: S.sort(c, [a], 0), private(k, owner=1))
    np.testing.assert_allclose(res.outputs[0], np.sort(k))
    assert res.values[0][0].payload is None and res.stats[0].rounds == 0


def test_sort_rounds_are_layers_times_comparison_plus_product() -> None:
    from tests.hal.runner import config

    x = RNG.uniform(-1, 1, size=(2, 100))
    res = run(config("semi2k", "FM64"), lambda c, v: S.sort(c, [v], 1), secret(x))
    assert max(s.rounds for s in res.stats) == 28 * (3 + 1)
    np.testing.assert_allclose(res.outputs[0], np.sort(x, axis=1), atol=2.0**-17)


@pytest.mark.parametrize("proto,field", params(extra=True))
@pytest.mark.parametrize("take_max", [True, False])
def test_tournament(proto: str, field: str, take_max: bool) -> None:
    from tests.hal.runner import config

    x = np.round(RNG.uniform(-3, 3, size=(3, 4, 13)), 1)  # ties likely
    res = run(config(proto, field), lambda c, v: S.tournament(c, v, (0, 2), take_max), secret(x))
    want = np.max(x, axis=(0, 2)) if take_max else np.min(x, axis=(0, 2))
    np.testing.assert_allclose(res.outputs[0], want, atol=2.0**-17)


@pytest.mark.parametrize("n,rounds", [(2, 4), (3, 5), (4, 5), (16, 10), (100, 19)])
def test_tournament_rounds(n: int, rounds: int) -> None:
    from tests.hal.runner import config

    x = RNG.uniform(-3, 3, size=(5, n))
    res = run(config("semi2k", "FM64"), lambda c, v: S.tournament(c, v, 1, True), secret(x))
    np.testing.assert_allclose(res.outputs[0], np.max(x, axis=1), atol=2.0**-17)
    assert max(s.rounds for s in res.stats) == rounds


def _apply_min_layers(x: np.ndarray, layers) -> np.ndarray:  # type: ignore[no-untyped-def]
    x = x.copy()
    for lo, hi in layers:
        a, b = x[..., lo], x[..., hi]
        x[..., lo], x[..., hi] = np.minimum(a, b), np.maximum(a, b)
    return x


@pytest.mark.parametrize("n,k", [(n, k) for n in range(1, 12) for k in range(1, n + 1)])
def test_selection_network_keeps_the_k_smallest_sorted(n: int, k: int) -> None:
    """0-1 principle for selection: every bit vector's k smallest land sorted on wires 0..k-1."""
    bits = np.array(list(itertools.product([0, 1], repeat=n)))
    got = _apply_min_layers(bits, S.selection_layers(n, k))[:, :k]
    np.testing.assert_array_equal(got, np.sort(bits, axis=-1)[:, :k])


@pytest.mark.parametrize("n,k,depth", [(100, 5, 22), (100, 1, 7), (1000, 10, 40)])
def test_selection_network_depth(n: int, k: int, depth: int) -> None:
    layers = S.selection_layers(n, k)
    assert len(layers) == depth < len(S.oddeven_layers(n))
    x = RNG.normal(size=(10, n))
    np.testing.assert_array_equal(_apply_min_layers(x, layers)[:, :k], np.sort(x, axis=-1)[:, :k])


def test_top_k_selection_network_matches_jax_with_ties() -> None:
    """Rows of 100, k = 5 (the selection path): values and lowest-index-first ties as
    jax.lax.top_k, in 22 layers of 4 rounds (a full sort: 112 rounds)."""
    from tests.hal.runner import config

    x = np.round(RNG.normal(size=(3, 100)) * 4) / 4 + 0.0  # many ties, no -0.0
    res = run(config("semi2k", "FM64"), lambda c, v: S.top_k(c, v, 5), secret(x))
    order = np.lexsort((np.arange(100)[None, :].repeat(3, 0), -x), axis=-1)[:, :5]
    np.testing.assert_allclose(res.outputs[0], np.take_along_axis(x, order, -1), atol=2.0**-17)
    np.testing.assert_array_equal(res.outputs[1], order)
    assert res.stats[0].rounds == 22 * 4
