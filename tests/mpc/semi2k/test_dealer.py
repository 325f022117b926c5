"""veil.mpc.dealer with semi2k's recipes: shares recombine to the correlation, in lockstep.

Runs the recipes directly (no link): the dealer's Corr sees every party's stream, each client's
Corr only its own, and the last party reads the dealer's adjust bytes.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.mpc.semi2k.common import assert_ring_equal
from veil.config import Field
from veil.errors import LinkError
from veil.mpc import circuits, dealer, dealer_service, lazy, ring
from veil.mpc.matmul import matmul
from veil.mpc.prg import AesCtrStream
from veil.mpc.semi2k import correlations as D


def _draw(world: int, kind: int, *params: int, calls: int = 1) -> tuple[list, list[list], int]:
    """(dealer plain values, per-party shares, adjust bytes) of the last of `calls` draws."""
    keys = [bytes([i + 1]) * 32 for i in range(world)]
    dealer_streams = {i: AesCtrStream(k) for i, k in enumerate(keys)}
    client_streams = [AesCtrStream(k) for k in keys]
    private = AesCtrStream(b"p" * 32)
    for _ in range(calls):  # earlier calls advance every stream the same way
        corr = dealer.Corr(world, dealer_streams, world, private=private)
        values = D.RECIPES[kind].fn(corr, *params)
        adjust = corr.adjust_bytes()
        shares = []
        for rank in range(world):
            c = dealer.Corr(world, {rank: client_streams[rank]}, rank, adjust if rank == world - 1 else None)
            shares.append(dealer_service.mine(D.RECIPES[kind].fn(c, *params)))
            c.check_consumed()
    return list(values), shares, adjust.size


def _sum(parts: list[np.ndarray], xor: bool = False) -> np.ndarray:
    total = parts[0]
    for p in parts[1:]:
        total = dealer.add_shares(total, p, xor)
    return total


@pytest.mark.parametrize("world", [2, 3])
@pytest.mark.parametrize("k", [64, 128])
def test_beaver_square_and(world: int, k: int) -> None:
    _, shares, adj = _draw(world, D.BEAVER, k, 50, calls=2)
    a, b, c = (_sum([s[i] for s in shares]) for i in range(3))
    assert_ring_equal(c, ring.mul(a, b))
    assert adj == 50 * k // 8  # one element per correlated element
    _, shares, _ = _draw(world, D.SQUARE, k, 7)
    a, aa = (_sum([s[i] for s in shares]) for i in range(2))
    assert_ring_equal(aa, ring.mul(a, a))
    _, shares, _ = _draw(world, D.AND_WORD, k, 9)
    a, b, c = (_sum([s[i] for s in shares], xor=True) for i in range(3))
    assert_ring_equal(c, ring.and_(a, b))


@pytest.mark.parametrize("ba,bb", [(1, 1), (3, 1), (3, 3), (1, 2)])
def test_matmul_triple(ba: int, bb: int) -> None:
    _, shares, adj = _draw(3, D.MATMUL, 64, ba, bb, 4, 5, 6)
    u, v, w = (_sum([s[i] for s in shares]) for i in range(3))
    assert u.shape == (ba, 4, 5) and v.shape == (bb, 5, 6)
    assert_ring_equal(w, matmul(u, v))
    assert adj == max(ba, bb) * 4 * 6 * 8


@pytest.mark.parametrize("width", [32, 64, 128])
def test_trunc2_private_product(width: int) -> None:
    _, shares, adj = _draw(2, D.TRUNC2, width, 40)
    u, v, z = shares[0][0], shares[1][1], _sum([shares[0][2], shares[1][2]])
    assert shares[0][1] is None and shares[1][0] is None  # each holds only its own value
    assert (z == D.mul_any(u, v)).all() if width < 128 else ring.equal(z, ring.mul(u, v)).all()
    assert adj == 40 * width // 8


@pytest.mark.parametrize("k", [64, 128])
def test_truncn_and_bits(k: int) -> None:
    m = 13
    _, shares, _ = _draw(3, D.TRUNCN, k, 30, m)
    r, top, low = (_sum([s[i] for s in shares]) for i in range(3))
    assert_ring_equal(top, ring.msb(r))
    r_low = ring.rshift_logical(ring.lshift(r, 1), 1)
    assert_ring_equal(low, ring.rshift_logical(ring.add(r_low, ring.full(Field(k), (), (1 << m) - 1)), m))
    _, shares, _ = _draw(3, D.BIT, k, 30)
    s = circuits.unpack(_sum([sh[0] for sh in shares], xor=True), 30)
    assert_ring_equal(_sum([sh[1] for sh in shares]), circuits.ring_from_bits(s, Field(k)))
    _, shares, _ = _draw(2, D.RAND_BITS, k, 300)
    bits = ring.to_int64(_sum([sh[0] for sh in shares]))
    assert set(np.unique(bits)) == {0, 1}
    _, shares, adj = _draw(3, D.B2A, k, 5)
    r = _sum([sh[0] for sh in shares], xor=True)
    assert adj == 5 * (k // 2 + 1) * k // 8  # half the bits of one ring element per bit of r
    for i, (lo, hi) in enumerate(D.pow2_words(k)):
        parts = [D.pow2_decode(sh[1][i], lo, hi) for sh in shares]
        for j, pos in ((lo, 0), (hi, 1)):
            if j is not None:
                want = ring.lshift(ring.bit(r, j), j)
                assert_ring_equal(_sum([p[pos] for p in parts]), want)
                if j:  # a share of t_j is a multiple of 2^j
                    low = ring.lshift(parts[0][pos], k - j)
                    assert ring.equal(low, ring.zeros(Field(k), low.shape)).all()


@pytest.mark.parametrize("which", [D.MSB, D.EQZ, D.A2B])
def test_circuit_edabits(which: int) -> None:
    numel = 21
    _, shares, _ = _draw(2, D.CIRCUIT, 64, numel, which)
    planes = _sum([s[0] for s in shares], xor=True)
    r = _sum([s[1] for s in shares])
    assert_ring_equal(r, circuits.ring_from_planes(planes, numel, Field.FM64))


def test_adjust_mismatch_is_detected() -> None:
    corr = dealer.Corr(2, {1: AesCtrStream(b"a" * 32)}, 1, np.zeros(3, np.uint8))
    with pytest.raises(LinkError, match="too short"):
        D.RECIPES[D.BEAVER].fn(corr, 64, 1)
    corr = dealer.Corr(2, {1: AesCtrStream(b"a" * 32)}, 1, np.zeros(16, np.uint8))
    D.RECIPES[D.BEAVER].fn(corr, 64, 1)
    with pytest.raises(LinkError, match="unused"):
        corr.check_consumed()


def test_malformed_requests_rejected() -> None:
    with pytest.raises(LinkError, match="malformed"):
        dealer_service.parse_request(np.zeros(3, np.uint64), D.RECIPES)
    req = np.zeros(dealer.REQ_WORDS, np.uint64)
    req[0] = 99
    with pytest.raises(LinkError, match="unknown correlation"):
        dealer_service.parse_request(req, D.RECIPES)


@pytest.mark.parametrize("world", [1, 2, 3])
@pytest.mark.parametrize("xor", [False, True])
def test_given_rows_chunked(world: int, xor: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Row-chunked correlations: lazy client shares recombine to fn's rows, around eager parts."""
    monkeypatch.setattr(lazy, "CHUNK_BYTES", 100)  # many chunks of 8 rows
    numel, cols, dt = 77, 3, np.dtype(np.uint64)
    plain = np.arange(numel * cols, dtype=np.uint64).reshape(numel, cols) * np.uint64(0x9E3779B97F4A7C15)

    def recipe(c: dealer.Corr) -> tuple[dealer.Shared, ...]:
        head = c.given(dt, 5, lambda: np.arange(5, dtype=np.uint64))
        rows = c.given_rows(dt, (numel, cols), lambda lo, hi: plain[lo:hi], xor=xor)
        tail = c.given(np.uint8, 3, lambda: np.arange(3, dtype=np.uint8))
        return head, rows, tail

    keys = [bytes([i + 1]) * 32 for i in range(world)]
    server = dealer.Corr(world, {i: AesCtrStream(k) for i, k in enumerate(keys)}, world)
    recipe(server)
    adjust = server.adjust_bytes()
    assert adjust.size == 5 * 8 + numel * cols * 8 + 3
    shares = []
    for rank in range(world):
        c = dealer.Corr(world, {rank: AesCtrStream(keys[rank])}, rank, adjust if rank == world - 1 else None)
        shares.append(dealer_service.mine(recipe(c)))
        c.check_consumed()
    assert (_sum([s[0] for s in shares]) == np.arange(5)).all()
    assert (_sum([s[2] for s in shares]) == np.arange(3)).all()
    for lo, hi in [(0, numel), (8, 16), (72, 77), (3, 3)]:
        got = _sum([lazy.rows_of(s[1], lo, hi) for s in shares], xor=xor)
        assert got.shape == (hi - lo, cols) and (got == plain[lo:hi]).all()


@pytest.mark.parametrize("world", [2, 3])
@pytest.mark.parametrize("xor", [False, True])
def test_given_rows_placed_adjust(world: int, xor: bool) -> None:
    """An odd-sized part before the rows: the dealer places the adjust so the rows are aligned
    and the last party reads them in place (read-only views); a misaligned copy of the same
    bytes (as another link would deliver them) gives the same shares through aligned copies.
    fn may return non-contiguous rows (written with out=) or another dtype (the general path)."""
    numel, cols, dt = 70, 5, np.dtype(np.uint64)
    plain = np.arange(numel * cols, dtype=np.uint64).reshape(cols, numel).T * np.uint64(0x9E3779B97F4A7C15)
    assert not plain.flags.c_contiguous

    def recipe(c: dealer.Corr) -> tuple[dealer.Shared, ...]:
        head = c.given(np.uint8, 5, lambda: np.arange(5, dtype=np.uint8))
        rows = c.given_rows(dt, (numel, cols), lambda lo, hi: plain[lo:hi], xor=xor)
        small = c.given_rows(
            dt, (9, 2), lambda lo, hi: np.arange(2 * lo, 2 * hi, dtype=np.uint32).reshape(-1, 2), xor=xor
        )
        return head, rows, small

    keys = [bytes([i + 1]) * 32 for i in range(world)]
    server = dealer.Corr(world, {i: AesCtrStream(k) for i, k in enumerate(keys)}, world)
    recipe(server)
    adjust = server.adjust_bytes()
    assert (adjust.ctypes.data + 5) % 8 == 0  # the largest part (the rows) starts aligned
    raw = np.empty(adjust.size + 8, np.uint8)
    off = (1 - raw.ctypes.data - 5) % 8  # the rows would start 1 byte past an 8-byte boundary
    misaligned = raw[off : off + adjust.size]
    misaligned[:] = adjust
    for adj in (adjust, misaligned):
        shares = []
        for rank in range(world):
            c = dealer.Corr(world, {rank: AesCtrStream(keys[rank])}, rank, adj if rank == world - 1 else None)
            shares.append(dealer_service.mine(recipe(c)))
            c.check_consumed()
        assert (_sum([s[0] for s in shares]) == np.arange(5)).all()
        got = _sum([lazy.rows_of(s[1], 0, numel) for s in shares], xor=xor)
        assert (got == plain).all()
        small = _sum([lazy.rows_of(s[2], 0, 9) for s in shares], xor=xor)
        assert (small == np.arange(18).reshape(9, 2)).all()
        last_rows = lazy.rows_of(shares[-1][1], 8, 16)
        in_place = adj is adjust  # a view (read-only) of the aligned adjust, else a fresh copy
        assert np.shares_memory(last_rows, adj) == in_place and last_rows.flags.writeable != in_place
