"""veil.mpc.prg: AES-CTR streams (determinism, uniformity, forks) and key agreement over a link."""

from __future__ import annotations

import numpy as np
import pytest

from veil.config import Field
from veil.link.memory import run_job, run_parties
from veil.mpc import ring
from veil.mpc.prg import AesCtrStream, PrgSet, setup_prgs

KEY = bytes(range(32))
SEED = b"s" * 32


# --- streams ----------------------------------------------------------------------------------


def test_known_answer() -> None:
    """AES-256 of the zero block under the zero key (FIPS-197 style vector): CTR block 0."""
    assert AesCtrStream(bytes(32)).bytes(16).hex() == "dc95c078a2408989ad48a21492842087"


def test_deterministic_and_continuous() -> None:
    s1, s2 = AesCtrStream(KEY), AesCtrStream(KEY)
    whole = s1.bytes(100)
    parts = s2.bytes(7) + s2.bytes(0) + s2.bytes(40) + s2.bytes(53)
    assert whole == parts  # the counter advances across draws, never restarts
    assert AesCtrStream(KEY).bytes(100) == whole
    assert AesCtrStream(bytes(32)).bytes(100) != whole
    assert s1.bytes(16) != whole[:16]
    with pytest.raises(ValueError, match="32 bytes"):
        AesCtrStream(b"short")


def test_uint_and_ring_read_the_keystream() -> None:
    raw = AesCtrStream(KEY).bytes(8 * 6 + 16 * 4 + 4 * 3)
    s = AesCtrStream(KEY)
    a = s.ring(Field.FM64, (2, 3))
    b = s.ring(Field.FM128, 4)
    c = s.uint(3, np.uint32)
    assert a.dtype == ring.U64 and a.shape == (2, 3) and a.flags.writeable
    assert b.dtype == ring.U128 and b.shape == (4,)
    assert c.dtype == np.uint32 and c.shape == (3,)
    assert a.tobytes() + b.tobytes() + c.tobytes() == raw
    assert s.ring(Field.FM64, (0, 5)).shape == (0, 5)
    assert s.ring(Field.FM128, ()).shape == ()
    with pytest.raises(TypeError, match="unsigned"):
        s.uint(3, np.int64)


@pytest.mark.parametrize("field", [Field.FM64, Field.FM128])
def test_ring_every_bit_uniform(field: Field) -> None:
    n = 100_000
    draws = AesCtrStream(KEY).ring(field, n)
    freq = ring.bit_decompose(draws).mean(axis=0)
    assert freq.shape == (field.bits,)
    sigma = np.sqrt(0.25 / n)
    assert np.all(np.abs(freq - 0.5) < 5 * sigma), freq


@pytest.mark.parametrize("dtype", [np.uint8, np.uint32, np.uint64])
def test_uint_every_bit_uniform(dtype: type) -> None:
    n = 100_000
    x = AesCtrStream(KEY).uint(n, dtype)
    bits = np.unpackbits(x.view(np.uint8).reshape(n, -1), axis=1)
    assert np.all(np.abs(bits.mean(axis=0) - 0.5) < 5 * np.sqrt(0.25 / n))


def test_bits() -> None:
    s = AesCtrStream(KEY)
    b = s.bits((4, 5))
    assert b.dtype == np.uint8 and b.shape == (4, 5) and set(np.unique(b)) <= {0, 1}
    t = AesCtrStream(KEY)
    raw = np.frombuffer(t.bytes(3), np.uint8)
    assert np.array_equal(b.ravel(), np.unpackbits(raw, bitorder="little")[:20])  # 8 bits per byte
    assert s.bytes(4) == t.bytes(4)  # 20 bits consumed exactly 3 bytes
    big = AesCtrStream(KEY).bits(200_000)
    assert abs(big.mean() - 0.5) < 5 * np.sqrt(0.25 / 200_000)


def test_fork() -> None:
    parent = AesCtrStream(KEY)
    f1 = parent.fork("triples")
    parent.bytes(1000)
    f2 = parent.fork("triples")  # independent of how much the parent drew
    f3 = parent.fork("bits")
    x1, x2, x3 = f1.bytes(64), f2.bytes(64), f3.bytes(64)
    assert x1 == x2
    assert x1 != x3
    assert x1 != AesCtrStream(KEY).bytes(64)
    assert AesCtrStream(bytes(32)).fork("triples").bytes(64) != x1


# --- setup over a link ------------------------------------------------------------------------


def _draw_all(prgs: PrgSet, others: list[int]) -> dict[str, bytes]:
    out = {"private": prgs.private.bytes(32), "public": prgs.public.bytes(32)}
    for peer in others:
        out[f"pair{peer}"] = prgs.pair(peer).bytes(32)
    return out


def _compute_party(world: int, dealer: bool, seed: bytes | None):  # type: ignore[no-untyped-def]
    def fn(link):  # type: ignore[no-untyped-def]
        peers = [r for r in range(world) if r != link.rank] + ([world] if dealer else [])
        prgs = setup_prgs(link, peers, seed=seed)
        assert prgs.pair(peers[0]) is prgs.pair(peers[0])  # one stream object per peer
        return _draw_all(prgs, peers)

    return fn


def _dealer(world: int, seed: bytes | None):  # type: ignore[no-untyped-def]
    def fn(link):  # type: ignore[no-untyped-def]
        return _draw_all(setup_prgs(link, list(range(world)), seed=seed), list(range(world)))

    return fn


@pytest.mark.parametrize("world", [2, 3])
def test_setup_streams(world: int) -> None:
    res = run_parties(world, _compute_party(world, False, None), timeout=20)
    assert len({r["public"] for r in res}) == 1
    assert len({r["private"] for r in res}) == world
    pair_vals = {}
    for i in range(world):
        for j in range(world):
            if i != j:
                assert res[i][f"pair{j}"] == res[j][f"pair{i}"]  # same stream on both sides
                pair_vals[frozenset((i, j))] = res[i][f"pair{j}"]
    everything = list(pair_vals.values()) + [res[0]["public"]] + [r["private"] for r in res]
    assert len(set(everything)) == len(everything)  # pairs differ across pairs and from the rest


def test_setup_with_dealer() -> None:
    world = 3
    job = run_job(world, _compute_party(world, True, None), dealer=_dealer(world, None), timeout=20)
    res, dres = job.results, job.dealer_result
    assert {r["public"] for r in res} == {dres["public"]}
    for i in range(world):
        assert res[i][f"pair{world}"] == dres[f"pair{i}"]
    assert len({dres[f"pair{i}"] for i in range(world)}) == world


def test_seed_is_reproducible() -> None:
    world = 3
    run = lambda seed: run_parties(world, _compute_party(world, False, seed), timeout=20)  # noqa: E731
    a, b = run(SEED), run(SEED)
    assert a == b
    c = run(b"t" * 32)
    assert all(a[r][key] != c[r][key] for r in range(world) for key in a[r])
    fresh1, fresh2 = run(None), run(None)
    assert all(fresh1[r][key] != fresh2[r][key] for r in range(world) for key in fresh1[r])


def test_setup_errors() -> None:
    def self_peer(link):  # type: ignore[no-untyped-def]
        with pytest.raises(ValueError, match="exclude itself"):
            setup_prgs(link, [link.rank, 1 - link.rank])
        with pytest.raises(ValueError, match="distinct"):
            setup_prgs(link, [1 - link.rank, 1 - link.rank])
        prgs = setup_prgs(link, [1 - link.rank])
        with pytest.raises(ValueError, match="no PRG shared with party 5"):
            prgs.pair(5)
        return True

    assert run_parties(2, self_peer, timeout=20) == [True, True]


@pytest.mark.parametrize("start", [0, 5, 16, 33])
def test_skip_is_a_lazy_draw(start: int) -> None:
    """skip(n) moves the stream as drawing n bytes would; its slice regenerates any sub-range."""
    whole = AesCtrStream(KEY).bytes(start + 5000 + 40)
    s = AesCtrStream(KEY)
    s.bytes(start)
    sl = s.skip(5000)
    assert s.position == start + 5000
    assert s.bytes(40) == whole[start + 5000 :]  # the stream continues after the skipped range
    for off, n in [(0, 5000), (1, 17), (4095, 905), (4999, 1), (123, 0)]:
        assert sl.read(off, n).tobytes() == whole[start + off : start + off + n]
    with pytest.raises(ValueError):
        sl.read(4990, 11)
