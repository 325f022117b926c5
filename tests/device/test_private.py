"""Private visibility in the device API, the compiled-program cache, and job progress, with real
node processes on loopback.

A compute party's PYU input stays PRIVATE (plaintext at its own node) until an op mixes it with
another party's data; the all-secret path (`keep_private=False`) shares every input up front.
Tolerance: FM64 with 18 fraction bits, a 30-term dot product and one truncation: atol=1e-3.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import veil
from veil.device.api import Session
from veil.device.cluster import cluster_def
from veil.device.codec import encode
from veil.device.objects import reveal
from veil.device.private import private
from veil.device.progress import Progress
from veil.device.pyu import PYU
from veil.device.spu import SPU
from veil.dtypes import DType, Visibility

pytestmark = pytest.mark.timeout(120)
TIMEOUTS = {"link_s": 20, "heartbeat_s": 0.5, "startup_s": 45}


def alice_features_then_join(x1, wa, x2):
    """Alice scores her own columns with her own weights, then the score meets bob's data."""
    score = (x1 @ wa) * 0.5 + 1.0
    return score * x2


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    # distinctive float patterns, so that captured bytes can be searched for them
    x1 = 7.125 + rng.integers(0, 1 << 10, size=(32, 30)) / 1024
    wa = 0.1 * rng.normal(size=(30, 4))
    x2 = rng.normal(size=(32, 4))
    return x1, wa, x2


@pytest.fixture(scope="module")
def captured(tmp_path_factory):
    """A semi2k cluster whose nodes append every link message to files (VEIL_WIRE_CAPTURE)."""
    folder = tmp_path_factory.mktemp("wire")
    mp = pytest.MonkeyPatch()
    mp.setenv("VEIL_WIRE_CAPTURE", str(folder))
    reports: list[list[Progress]] = []
    session = Session(["alice", "bob"], progress=reports.append)
    try:
        spu = SPU(cluster_def(["alice", "bob"], protocol="semi2k", timeouts=TIMEOUTS), session=session)
    except BaseException:
        session.shutdown()
        mp.undo()
        raise
    mp.undo()  # the nodes have their environment; later clusters in this run do not capture
    yield session, spu, folder, reports
    session.shutdown()


def _run(session: Session, spu: SPU, data, keep_private: bool):
    x1, wa, x2 = data
    alice, bob = PYU("alice", session), PYU("bob", session)
    spu.keep_private = keep_private
    try:
        out = spu(alice_features_then_join)(alice(lambda: x1)(), alice(lambda: wa)(), bob(lambda: x2)())
        return reveal(out), spu.stats, spu.program
    finally:
        spu.keep_private = True


def test_private_inputs_match_cost_less_and_never_hit_the_wire(captured, data) -> None:
    session, spu, folder, _ = captured
    x1, wa, x2 = data
    want = alice_features_then_join(x1, wa, x2)
    for f in Path(folder).glob("*.wire"):
        f.unlink()
    got_p, stats_p, prog_p = _run(session, spu, data, keep_private=True)
    got_s, stats_s, prog_s = _run(session, spu, data, keep_private=False)
    np.testing.assert_allclose(got_p, want, atol=1e-3)
    np.testing.assert_allclose(got_s, want, atol=1e-3)
    assert [v.type.vis for v in prog_p.inputs] == [Visibility.PRIVATE] * 3
    assert [v.type.owner for v in prog_p.inputs] == [0, 0, 1]
    assert [v.type.vis for v in prog_s.inputs] == [Visibility.SECRET] * 3
    # alice's matmul runs locally in plaintext: no Beaver triple, no opening
    assert stats_p.online_bytes < stats_s.online_bytes / 2, (stats_p, stats_s)
    assert stats_p.offline_bytes < stats_s.offline_bytes, (stats_p, stats_s)
    assert stats_p.rounds < stats_s.rounds
    # the same program in the in-process simulation costs exactly the same
    sim = veil.jit(alice_features_then_join, protocol="semi2k")
    np.testing.assert_allclose(sim(private(x1, 0), private(wa, 0), private(x2, 1)), got_p, atol=1e-4)
    assert (sim.stats.online_bytes, sim.stats.rounds, sim.stats.offline_bytes) == (
        stats_p.online_bytes,
        stats_p.rounds,
        stats_p.offline_bytes,
    )
    # what the nodes sent each other (before TLS) never holds alice's plaintext
    wire = b"".join(f.read_bytes() for f in sorted(Path(folder).glob("*.wire")))
    assert len(wire) > 1000
    ring = encode(spu.config, x1, DType.FXP)
    score = encode(spu.config, x1 @ wa * 0.5 + 1.0, DType.FXP)
    for pattern in (x1[0].tobytes(), ring[0, :4].tobytes(), ring[7, 3:9].tobytes(), score[0].tobytes()):
        assert pattern not in wire


def test_private_results_reveal_move_and_feed_later_calls(captured, data) -> None:
    session, spu, _, _ = captured
    x1, wa, x2 = data
    alice, bob = PYU("alice", session), PYU("bob", session)
    mine = spu(lambda a, w: a @ w)(alice(lambda: x1)(), alice(lambda: wa)())
    assert mine.leaves[0].vis is Visibility.PRIVATE and mine.leaves[0].owner == 0
    assert spu.stats.online_bytes == 0 and spu.stats.rounds == 0  # alice computed it alone
    np.testing.assert_allclose(reveal(mine), x1 @ wa, atol=1e-3)
    np.testing.assert_allclose(mine.to(alice).data, x1 @ wa, atol=1e-3)
    np.testing.assert_allclose(mine.to(bob).data, x1 @ wa, atol=1e-3)  # alice sends it to bob
    joined = spu(lambda m, b: m + b)(mine, bob(lambda: x2)())  # by reference: shared now
    assert joined.leaves[0].vis is Visibility.SECRET
    np.testing.assert_allclose(reveal(joined), x1 @ wa + x2, atol=1e-3)


def test_repeated_calls_reuse_the_compiled_program(captured, data) -> None:
    session, spu, _, _ = captured
    x1, wa, x2 = data
    alice, bob = PYU("alice", session), PYU("bob", session)
    a, w, b = alice(lambda: x1)(), alice(lambda: wa)(), bob(lambda: x2)()
    before = (spu._cache.hits, spu._cache.misses)
    first = reveal(spu(alice_features_then_join)(a, w, b))
    second = reveal(spu(alice_features_then_join)(a, w, b))
    third = reveal(spu(alice_features_then_join)(a, w, bob(lambda: x2 + 1.0)()))  # new data, same types
    assert (spu._cache.hits - before[0], spu._cache.misses - before[1]) in ((2, 1), (3, 0))
    np.testing.assert_allclose(first, second, atol=1e-5)
    np.testing.assert_allclose(third, alice_features_then_join(x1, wa, x2 + 1.0), atol=1e-3)
    spu(alice_features_then_join)(alice(lambda: x1[:16])(), w, bob(lambda: x2[:16])())  # new shapes
    assert spu._cache.misses - before[1] in (1, 2)


def test_progress_reaches_the_driver(captured) -> None:
    session, spu, _, reports = captured
    reports.clear()

    def iterate(x):
        return jax.lax.fori_loop(0, 400, lambda i, c: c * c * 0.5 + 0.25, x)

    spu.keep_private = False  # secret multiplications: a job of a few seconds
    try:
        out = spu(iterate)(PYU("alice", session)(lambda: np.full((64, 64), 0.5))())
    finally:
        spu.keep_private = True
    ref = np.full((64, 64), 0.5)
    for _ in range(400):
        ref = ref * ref * 0.5 + 0.25
    np.testing.assert_allclose(reveal(out), ref, atol=1e-3)
    assert reports, "no progress report during a multi-second job"
    last = {p.party: p for p in reports[-1]}
    assert set(last) == {"alice", "bob"}
    for p in last.values():
        assert p.loop == 1 and p.loop_n == 400 and 1 <= p.loop_i <= 400
        assert 0 < p.ops_done <= p.ops_total


def test_jit_compile_then_ir_and_cache() -> None:
    f = veil.jit(lambda a, b: jnp.tanh(a) @ b)
    assert "not compiled yet" in f.ir
    x, w = np.ones((4, 3)), np.ones((3, 2))
    f.compile(x, w)
    assert "program(" in f.ir and "secret" in f.ir
    f(x, w)
    f(x + 1, w)
    assert (f._cache.hits, f._cache.misses) == (2, 1)
    f(private(x, 0), w)  # another visibility: another program
    assert f._cache.misses == 2 and "private@0" in f.ir
