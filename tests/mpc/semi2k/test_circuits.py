"""veil.mpc.circuits: formulas, plans and level evaluation, simulated in the clear (one party).

With a single party every share is the plain value and opening is the identity, so these tests
check the circuit algebra (direct first level, masked levels, arithmetic last level) on many
inputs quickly; tests/mpc/semi2k/test_compare.py runs the same circuits across 2-4 parties.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.mpc.semi2k.common import assert_ring_equal, bits01, uniform, with_edges
from veil.config import Field
from veil.mpc import circuits as C
from veil.mpc import dealer, dealer_service, lazy, ring
from veil.mpc.circuits import programs
from veil.mpc.circuits import run as run_mod
from veil.mpc.prg import AesCtrStream
from veil.mpc.semi2k import correlations as D
from veil.mpc.semi2k import plans as P
from veil.mpc.semi2k.compare import _extra_inputs


def simulate(which: int, x: np.ndarray) -> np.ndarray:
    """Evaluate circuit `which` on plain x with one party (shares = values)."""
    field, numel = ring.field_of(x), x.size
    k = field.bits
    stream = AesCtrStream(bytes(32))
    server = dealer.Corr(1, {0: stream}, 1, private=AesCtrStream(b"q" * 32))
    D.RECIPES[D.CIRCUIT].fn(server, k, numel, which)
    client = dealer.Corr(1, {0: AesCtrStream(bytes(32))}, 0, server.adjust_bytes())
    r_planes, r_arith, levels = dealer_service.mine(D.RECIPES[D.CIRCUIT].fn(client, k, numel, which))
    c = ring.add(x.reshape(-1), r_arith)
    cp, u = C.planes_from_ring(c), ~r_planes
    out = None
    for level, (masks, prods) in zip(D.PLANS[which](k).levels, levels):
        extra = _extra_inputs(which, level, cp, k) if level.n_extra else None
        out = C.run_level(level, out, extra, u, C.LevelShares(masks, prods), lambda p: p, True, numel, field)
    if which != D.A2B:
        return out.reshape(x.shape)
    bits = u ^ cp
    bits[0] ^= C.ONES
    bits[1:] ^= out[:-1]
    return C.ring_from_planes(bits, numel, field).reshape(x.shape)


def test_formula_sizes() -> None:
    assert len(P.carry_formula(4, direct=True).subsets) == 11  # subsets of 4 data bits, size >= 2
    assert len(P.carry_formula(4, direct=False).subsets) == 22
    assert len(P.carry_formula(4, direct=False, with_p=False).subsets) == 15
    assert len(P.msb_final_formula(4).subsets) == 45
    assert len(P.and_formula(4, True).subsets) == 15
    assert P.msb_final_formula(4).used_vars == (0, 2, 3, 4, 5, 6, 7, 8)  # P_0 of the lowest group unused


@pytest.mark.parametrize("k,rounds", [(64, 3), (128, 4)])
def test_plan_depths(k: int, rounds: int) -> None:
    assert 1 + P.msb_plan(k).masked_levels == rounds
    assert 1 + P.eqz_plan(k).masked_levels == rounds
    assert 1 + P.a2b_plan(k).masked_levels == rounds
    assert P.msb_plan(k).levels[0].opened == ()  # the first level is local


def test_packing_roundtrip() -> None:
    rng = np.random.default_rng(1)
    for field in (Field.FM64, Field.FM128):
        x = uniform(rng, field, (37,))
        planes = C.planes_from_ring(x)
        assert planes.shape == (field.bits, 5)
        assert_ring_equal(C.ring_from_planes(planes, 37, field), x)
    for n in (0, 1, 8, 9, 455):  # the 8x8 bit-matrix transposes against bit_decompose; no input mutated
        x = uniform(rng, Field.FM64, (n,))
        keep = x.copy()
        planes = C.planes_from_ring(x)
        assert (planes == C.pack(np.ascontiguousarray(ring.bit_decompose(x).T))).all()
        planes_keep = planes.copy()
        back = C.ring_from_planes(planes, n, Field.FM64)
        assert (x == keep).all() and (back == x).all() and (planes == planes_keep).all()
    for n in (1, 8, 13):  # FM128 too, and its planes are not mutated either (nb == 1 included)
        x = uniform(rng, Field.FM128, (n,))
        planes = C.planes_from_ring(x)
        planes_keep = planes.copy()
        assert_ring_equal(C.ring_from_planes(planes, n, Field.FM128), x)
        assert (planes == planes_keep).all()
    bits = rng.integers(0, 2, (3, 19), dtype=np.uint8)
    assert (C.unpack(C.pack(bits), 19) == bits).all()


@pytest.mark.parametrize("field", [Field.FM64, Field.FM128], ids=lambda f: f.name)
def test_circuits_in_the_clear(field: Field) -> None:
    rng = np.random.default_rng(7)
    x = with_edges(rng, field, 600)
    x[:20] = ring.zeros(field, 20)
    assert_ring_equal(simulate(D.MSB, x), ring.msb(x))
    assert_ring_equal(simulate(D.EQZ, x), bits01(field, ring.equal(x, ring.zeros(field, x.shape))))
    assert_ring_equal(simulate(D.A2B, x), x)


def _vm(x: np.ndarray | None) -> np.ndarray | None:
    """(groups, rows, nb) -> the variable-major (rows, groups, nb) layout of `run_xor`."""
    return None if x is None else np.ascontiguousarray(x.transpose(1, 0, 2))


def test_xor_expansion_exhaustive() -> None:
    """eval_xor on every assignment of a radix-4 (G, P) group equals the direct formula."""
    f = P.carry_formula(4, direct=False)
    assign = ((np.arange(256)[:, None] >> np.arange(8)) & 1).astype(np.uint8)  # (256, 8) var values
    valid = ~((assign[:, 0::2] & assign[:, 1::2]).any(axis=1))  # G_i and P_i never both 1
    v = assign[valid].T  # (8, N)
    rng = np.random.default_rng(3)
    s = rng.integers(0, 2, v.shape, dtype=np.uint8)  # masks
    a = C.pack(v ^ s)[None]
    b = np.full_like(a, C.ONES)
    secrets = np.concatenate([C.pack(s), np.zeros((65, a.shape[2]), np.uint8)])
    level = C.Level(f, np.arange(8)[None, :], 8, 0, ())
    prods = C.dealer_products(level, secrets, v.shape[1])[level.live_pos]  # one group, all live
    for prog, bb in ((programs.xor_program(f, True), None), (programs.xor_program(f, False), b)):
        args = (_vm(a), _vm(bb), _vm(secrets[level.slot_index(64)]), _vm(prods))
        got = programs.run_xor(prog, *args, True)
        out = C.unpack(got[:, 0], v.shape[1])
        g, p = v[0::2], v[1::2]
        want_g = g[3] | (p[3] & g[2]) | (p[3] & p[2] & g[1]) | (p[3] & p[2] & p[1] & g[0])
        assert (out[0] == want_g).all() and (out[1] == (p[0] & p[1] & p[2] & p[3])).all()


def test_arith_table_exhaustive() -> None:
    """The msb formula's coefficient table, applied to plain products of masks, gives Q ^ carry."""
    f = P.msb_final_formula(4)
    table = programs.arith_table(f, True)
    assign = ((np.arange(512)[:, None] >> np.arange(9)) & 1).astype(np.int64)  # (512, 9) var values
    ok = ~((assign[:, 0:8:2] & assign[:, 1:8:2]).any(axis=1))
    v = assign[ok]
    rng = np.random.default_rng(5)
    s = rng.integers(0, 2, v.shape)  # one mask per variable (each its own slot)
    a = v ^ s
    index = (a[:, list(f.used_vars)] << np.arange(len(f.used_vars))).sum(axis=1)
    coef = table[index, 0]  # (N, 1 + nsub)
    prods = np.stack([s[:, list(sub)].prod(axis=1) for sub in f.subsets], axis=1)
    got = coef[:, 0] + (coef[:, 1:] * prods).sum(axis=1)
    g, p, q = v[:, 0:8:2], v[:, 1:8:2], v[:, 8]
    carry = (
        g[:, 3]
        | (p[:, 3] & g[:, 2])
        | (p[:, 3] & p[:, 2] & g[:, 1])
        | (p[:, 3] & p[:, 2] & p[:, 1] & g[:, 0])
    )
    assert (got == (q ^ carry)).all()


@pytest.mark.parametrize("field", [Field.FM64, Field.FM128], ids=lambda f: f.name)
def test_circuits_across_chunks(field: Field, monkeypatch: pytest.MonkeyPatch) -> None:
    """Small chunk sizes (local work, dealer adjust, lazy reads) give the same results."""
    monkeypatch.setattr(run_mod, "CHUNK", 64)
    monkeypatch.setattr(run_mod, "ARITH_CHUNK", 40)  # 5 bytes of planes per chunk
    monkeypatch.setattr(lazy, "CHUNK_BYTES", 999)
    x = with_edges(np.random.default_rng(11), field, 300)
    assert_ring_equal(simulate(D.MSB, x), ring.msb(x))
    assert_ring_equal(simulate(D.EQZ, x), bits01(field, ring.equal(x, ring.zeros(field, x.shape))))
    assert_ring_equal(simulate(D.A2B, x), x)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(-(2**127), 2**127 - 1), min_size=1, max_size=40), st.sampled_from([64, 128]))
def test_circuits_property(vals: list[int], k: int) -> None:
    """msb, eqz and a2b of arbitrary values (taken mod 2^k), in the clear."""
    field = Field(k)
    x = ring.from_pyints(field, vals)
    assert_ring_equal(simulate(D.MSB, x), ring.msb(x))
    assert_ring_equal(simulate(D.EQZ, x), bits01(field, ring.equal(x, ring.zeros(field, x.shape))))
    assert_ring_equal(simulate(D.A2B, x), x)


@pytest.mark.parametrize("numel", [8, 2275, 9000])
def test_arith_rows_from_packed_products(numel: int) -> None:
    """The dealer's arithmetic rows from all packed products at once (arith_rows) equal the
    per-chunk computation (dealer_arith_rows) on every row-chunk, FM64 and FM128."""
    rng = np.random.default_rng(numel)
    for field in (Field.FM64, Field.FM128):
        level = P.msb_plan(field.bits).levels[-1]
        secrets = rng.integers(
            0, 256, (len(level.opened) + field.bits + 1, C.nbytes_of(numel)), dtype=np.uint8
        )
        packed = C.dealer_products(level, secrets, numel)
        for lo, hi in [(0, numel), (0, min(numel, 728)), (numel // 16 * 8, numel)]:
            assert_ring_equal(
                C.arith_rows(packed, lo, hi, field), C.dealer_arith_rows(level, secrets, lo, hi, field)
            )
