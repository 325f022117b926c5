"""PYU / SPU / reveal in local mode: real node processes on loopback, compared with plaintext numpy
and with the in-process simulation (`veil.jit`).

Tolerances: fixed point with 18 fraction bits on FM64 gives ~4e-6 per product; a few products
and truncations stay well inside atol=1e-3; the LR steps (polynomial sigmoid) inside 1e-2.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import veil
from veil.device import control
from veil.device.api import Session
from veil.device.cluster import cluster_def
from veil.device.codec import encode
from veil.device.objects import PYUObject, SPUObject, reveal
from veil.device.private import private
from veil.device.pyu import PYU
from veil.device.spu import SPU
from veil.dtypes import DType, Visibility
from veil.errors import ConfigError, VeilError

pytestmark = pytest.mark.timeout(90)
TIMEOUTS = {"link_s": 20, "heartbeat_s": 0.5, "startup_s": 45}


def linear(x1, w, x2):
    return x1 @ w + x2


def sigmoid_poly(z):
    """SecureML-style cubic sigmoid (multiplications only): 0.5 + 0.197 z - 0.004 z^3."""
    return 0.5 + 0.197 * z - 0.004 * z * z * z


def lr_step(x1, x2, y, w, b, lr: float = 0.5):
    """One full-batch logistic-regression step on vertically split features."""
    x = jnp.concatenate([x1, x2], axis=1)
    err = sigmoid_poly(x @ w + b) - y
    return w - lr * (x.T @ err) / x.shape[0], b - lr * jnp.mean(err)


def lr_step_np(x, y, w, b, lr=0.5):
    z = x @ w + b
    err = 0.5 + 0.197 * z - 0.004 * z**3 - y
    return w - lr * (x.T @ err) / x.shape[0], b - lr * err.mean()


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    x1, x2 = rng.normal(size=(32, 3)), rng.normal(size=(32, 2))
    y = (x1[:, 0] - x2[:, 1] > 0).astype(np.float64)
    return x1, x2, y, rng.normal(size=(3, 4)), rng.normal(size=(32, 4))


def make(parties: list[str], protocol: str) -> tuple[Session, SPU]:
    session = Session(parties)
    try:
        spu = SPU(cluster_def(parties, protocol=protocol, field="FM64", timeouts=TIMEOUTS), session=session)
    except BaseException:
        session.shutdown()
        raise
    return session, spu


@pytest.fixture(scope="module")
def semi2k():
    session, spu = make(["alice", "bob"], "semi2k")
    yield session, spu
    session.shutdown()


def check_linear_and_lr(session: Session, spu: SPU, data) -> None:
    x1, x2, y, w0, noise = data
    alice, bob = PYU("alice", session), PYU("bob", session)
    a_x1 = alice(lambda: x1)()
    b_w, b_noise = bob(lambda: (w0, noise), num_returns=2)()
    out = spu(linear)(a_x1, b_w, b_noise)
    assert isinstance(out, SPUObject) and out.shape == (32, 4)
    np.testing.assert_allclose(reveal(out), x1 @ w0 + noise, atol=1e-3)
    assert spu.stats.online_bytes > 0 and spu.stats.rounds > 0 and spu.stats.wall_s > 0

    # SPU -> PYU: reconstructed at alice's node only, handed to alice's PYU
    at_alice = out.to(alice)
    assert isinstance(at_alice, PYUObject) and at_alice.owner == "alice"
    np.testing.assert_allclose(at_alice.data, x1 @ w0 + noise, atol=1e-3)

    # LR: two steps, the second takes the first's SPU objects by reference (shares stay at the nodes)
    a_x1, b_x2, b_y = alice(lambda: x1)(), bob(lambda: x2)(), bob(lambda: y)()
    w, b = spu(lr_step, num_returns=2)(a_x1, b_x2, b_y, np.zeros(5), 0.0)
    w, b = spu(lr_step, num_returns=2)(a_x1, b_x2, b_y, w, b)
    x = np.concatenate([x1, x2], axis=1)
    we, be = lr_step_np(x, y, *lr_step_np(x, y, np.zeros(5), 0.0))
    got_w, got_b = reveal([w, b])
    np.testing.assert_allclose(got_w, we, atol=1e-2)
    np.testing.assert_allclose(got_b, be, atol=1e-2)


def test_semi2k_two_parties_with_dealer_node(semi2k, data) -> None:
    session, spu = semi2k
    assert spu.runner.cluster.link_names == ["alice", "bob", "dealer"]
    check_linear_and_lr(session, spu, data)
    assert spu.stats.offline_bytes > 0  # the dealer node served the multiplications


def test_matches_simulation(semi2k, data) -> None:
    x1, x2, y, w0, noise = data
    session, spu = semi2k
    alice, bob = PYU("alice", session), PYU("bob", session)
    got = reveal(spu(linear)(alice(lambda: x1)(), bob(lambda: w0)(), bob(lambda: noise)()))
    sim_fn = veil.jit(linear, protocol="semi2k", field="FM64")
    np.testing.assert_allclose(got, sim_fn(private(x1, 0), private(w0, 1), private(noise, 1)), atol=1e-4)
    # the same program on the same protocol: the same traffic, whatever the link
    assert (spu.stats.online_bytes, spu.stats.rounds) == (sim_fn.stats.online_bytes, sim_fn.stats.rounds)
    assert spu.stats.offline_bytes == sim_fn.stats.offline_bytes


def test_public_arguments_and_pytrees(semi2k) -> None:
    session, spu = semi2k
    alice = PYU("alice", session)
    params = alice(lambda: {"w": np.arange(6.0).reshape(2, 3), "b": np.ones(3)})()

    def affine(p, x, scale, k: int):
        return {"y": (x @ p["w"] + p["b"]) * scale, "k": p["b"] * k}

    x = np.array([[1.0, -2.0]])
    out = spu(affine, static_argnames=["k"])(params, veil.public(x), 0.5, k=3)
    got = reveal(out)
    np.testing.assert_allclose(got["y"], (x @ np.arange(6.0).reshape(2, 3) + 1) * 0.5, atol=1e-4)
    np.testing.assert_allclose(got["k"], np.full(3, 3.0), atol=1e-4)


def test_pyu_rules(semi2k) -> None:
    session, spu = semi2k
    alice, bob = PYU("alice", session), PYU("bob", session)
    a = alice(lambda: np.ones(2))()
    with pytest.raises(VeilError, match="move it first"):
        bob(lambda v: v)(a)
    moved = a.to(bob)
    assert moved.owner == "bob" and bob(lambda v: v.sum())(moved).data == 2.0
    with pytest.raises(VeilError, match="num_returns=3"):
        alice(lambda: (1, 2), num_returns=3)()
    with pytest.raises(ConfigError, match="not in this session"):
        PYU("mallory", session)
    s = spu(lambda v: v * 2.0)(a)
    with pytest.raises(VeilError, match="SPUObject"):
        alice(lambda v: v)(s)


def test_aby3_three_parties(data) -> None:
    session, spu = make(["alice", "bob", "carol"], "aby3")
    try:
        assert spu.runner.cluster.link_names == ["alice", "bob", "carol"]
        check_linear_and_lr(session, spu, data)
        assert spu.stats.offline_bytes == 0
    finally:
        session.shutdown()


def test_global_api_issue_example(data) -> None:
    x1, x2, _, w0, _ = data
    veil.init(parties=["alice", "bob"], address="local")
    try:
        alice, bob = veil.PYU("alice"), veil.PYU("bob")
        spu = veil.SPU(veil.cluster_def(["alice", "bob"], protocol="semi2k", field="FM64", timeouts=TIMEOUTS))
        with pytest.raises(VeilError, match="already called"):
            veil.init(parties=["alice", "bob"])
        w = spu(lambda a, b: a @ b[:3, :2])(alice(lambda: x1)(), bob(lambda: w0)())
        np.testing.assert_allclose(veil.reveal(w), x1 @ w0[:3, :2], atol=1e-3)
        procs = list(spu.runner.local.procs.values())
    finally:
        veil.shutdown()
    assert all(p.poll() is not None for p in procs), "node processes must be gone after veil.shutdown()"
    with pytest.raises(VeilError, match="no veil session"):
        veil.PYU("alice")


def test_local_nodes_over_mutual_tls(data) -> None:
    x1, _, _, w0, _ = data
    session = Session(["alice", "bob", "carol"], tls=True)
    try:
        spu = SPU(cluster_def(["alice", "bob", "carol"], protocol="aby3", timeouts=TIMEOUTS), session=session)
        tls = spu.runner.cluster.tls
        assert tls is not None and set(tls) == {"alice", "bob", "carol", "driver"}  # driver: control channel
        out = spu(linear)(PYU("alice", session)(lambda: x1)(), PYU("bob", session)(lambda: w0)(), np.zeros(4))
        np.testing.assert_allclose(reveal(out), x1 @ w0, atol=1e-3)
    finally:
        session.shutdown()


def test_outsourced_two_owners_three_compute_parties(data) -> None:
    x1, x2, y, w0, noise = data
    session = Session(["alice", "bob", "c1", "c2", "c3"])
    try:
        spu = SPU(cluster_def(["c1", "c2", "c3"], protocol="aby3", timeouts=TIMEOUTS), session=session)
        assert spu.runner.cluster.link_names == ["c1", "c2", "c3"]  # the data owners run no node
        alice, bob = PYU("alice", session), PYU("bob", session)
        out = spu(linear)(alice(lambda: x1)(), bob(lambda: w0)(), bob(lambda: noise)())
        assert spu.program is not None  # owners outside the compute parties share their inputs
        assert all(v.type.vis is Visibility.SECRET for v in spu.program.inputs)
        np.testing.assert_allclose(reveal(out), x1 @ w0 + noise, atol=1e-3)
        np.testing.assert_allclose(out.to(alice).data, x1 @ w0 + noise, atol=1e-3)
        np.testing.assert_allclose(out.to(PYU("c2", session)).data, x1 @ w0 + noise, atol=1e-3)
    finally:
        session.shutdown()


@pytest.mark.parametrize("keep_private", [True, False])
def test_nodes_never_receive_plaintext_inputs(semi2k, keep_private: bool) -> None:
    """Capture every control message the driver sends to each node: an input reaches only its
    owner's node in plaintext (kept PRIVATE there), and no node at all on the all-secret path."""
    session, spu = semi2k
    x = 1234.5678 + np.arange(64, dtype=np.float64).reshape(8, 8) / 1024  # distinctive bytes
    ring = encode(spu.config, x, DType.FXP)
    sent: dict[str, list[bytes]] = {n: [] for n in spu.runner.clients}
    for name, client in spu.runner.clients.items():
        real = client.call_async

        def spy(msg, timeout, real=real, name=name):
            sent[name].append(control.pack(msg))
            return real(msg, timeout)

        client.call_async = spy
    spu.keep_private = keep_private
    try:
        out = spu(lambda a: a * 2.0)(PYU("alice", session)(lambda: x)())
    finally:
        spu.keep_private = True
        for client in spu.runner.clients.values():
            del client.call_async
    assert out.leaves[0].vis is (Visibility.PRIVATE if keep_private else Visibility.SECRET)
    np.testing.assert_allclose(reveal(out), 2 * x, atol=1e-4)
    assert all(sent[n] for n in ("alice", "bob"))
    for pattern in (x.tobytes(), ring.tobytes(), x[0].tobytes(), ring[0, :2].tobytes()):
        assert not any(pattern in m for m in sent["bob"] + sent["dealer"])
    assert not any(x[0].tobytes() in m for m in sent["alice"])  # ring-encoded, not floats
    assert any(ring.tobytes() in m for m in sent["alice"]) is keep_private


@pytest.mark.slow
@pytest.mark.parametrize(
    "protocol, parties", [("semi2k", ["alice", "bob"]), ("aby3", ["alice", "bob", "carol"])]
)
def test_mlp_example_in_processes_matches_simulation(protocol: str, parties: list[str]) -> None:
    import sys
    from pathlib import Path

    import jax

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
    import mlp_breast_cancer as mlp
    from logit_regression import load_breast_cancer_vertical

    x1, x2, y, *_ = load_breast_cancer_vertical()
    y = y.reshape(-1, 1)
    params = mlp.init_params()
    sim = veil.jit(mlp.train_auto_grad, protocol=protocol, static_argnames=("n_batch", "n_epochs"))
    # alice's and bob's inputs stay PRIVATE at their nodes until the concatenation shares them
    p_sim = sim(private(x1, 0), private(x2, 1), private(y, 1), private(params, 0), n_epochs=1)
    session, spu = make(parties, protocol)
    try:
        alice, bob = PYU("alice", session), PYU("bob", session)
        bx, by = bob(lambda: (x2, y), num_returns=2)()
        p = spu(mlp.train_auto_grad, static_argnames=["n_batch", "n_epochs"])(
            alice(lambda: x1)(), bx, by, alice(lambda: params)(), n_epochs=1
        )
        got = reveal(p)
    finally:
        session.shutdown()
    for a, b in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(p_sim)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=2e-3)
    assert (spu.stats.online_bytes, spu.stats.rounds) == (sim.stats.online_bytes, sim.stats.rounds)


def test_shaped_links_add_latency_per_round(data) -> None:
    x1, _, _, w0, _ = data
    session = Session(["alice", "bob", "carol"])
    try:
        spu = SPU(
            cluster_def(
                ["alice", "bob", "carol"], protocol="aby3", timeouts=TIMEOUTS, shaper={"latency_ms": 50}
            ),
            session=session,
        )
        out = spu(lambda a, b: (a @ b) * (a @ b))(
            PYU("alice", session)(lambda: x1)(), PYU("bob", session)(lambda: w0)()
        )
        np.testing.assert_allclose(reveal(out), (x1 @ w0) ** 2, atol=1e-2)
        assert spu.stats.rounds >= 2
        assert spu.stats.wall_s >= 0.05 * spu.stats.rounds, (spu.stats.wall_s, spu.stats.rounds)
    finally:
        session.shutdown()


def test_lr_example_matches_simulation(semi2k) -> None:
    """The seed's LR example (exp, log, jax.grad) on node processes: same result and traffic as simulation."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
    import logit_regression as lr

    x1, x2, y, *_ = lr.load_breast_cancer_vertical()
    sim = veil.jit(lr.train, protocol="semi2k", static_argnames="n_epochs")
    w_sim, b_sim = sim(private(x1, 0), private(x2, 1), private(y, 1), n_epochs=2)
    session, spu = semi2k
    alice, bob = PYU("alice", session), PYU("bob", session)
    bx, by = bob(lambda: (x2, y), num_returns=2)()
    w, b = spu(lr.train, static_argnames=["n_epochs"], num_returns=2)(alice(lambda: x1)(), bx, by, n_epochs=2)
    got_w, got_b = reveal((w, b))
    np.testing.assert_allclose(got_w, w_sim, atol=1e-4)
    np.testing.assert_allclose(got_b, b_sim, atol=1e-4)
    assert (spu.stats.online_bytes, spu.stats.rounds, spu.stats.offline_bytes) == (
        sim.stats.online_bytes,
        sim.stats.rounds,
        sim.stats.offline_bytes,
    )


def test_init_cluster_keys_reach_the_default_cluster() -> None:
    """veil.init(transport=..., shaper=...) are cluster keys, not runtime_config ones."""
    session = Session(
        ["alice", "bob"], defaults={"transport": "grpc", "shaper": "100mbit_10ms", "fxp_bits": 20}
    )
    cluster = session.spu_cluster(None)
    assert cluster.transport == "grpc"
    assert cluster.shaper is not None and cluster.shaper[0] == pytest.approx(0.010)
    assert cluster.runtime.f == 20
    assert Session(["alice", "bob"]).spu_cluster(None).transport == "tcp"  # the default link
    with pytest.raises(ConfigError, match="transport"):
        Session(["alice", "bob"], defaults={"transport": "udp"}).spu_cluster(None)


@pytest.mark.parametrize("transport", ["grpc", "tcp"])
def test_local_nodes_on_each_transport(data, transport: str) -> None:
    x1, _, _, w0, _ = data
    session = Session(["alice", "bob"])
    try:
        spu = SPU(cluster_def(["alice", "bob"], timeouts=TIMEOUTS, transport=transport), session=session)
        assert spu.runner.cluster.transport == transport
        out = spu(linear)(PYU("alice", session)(lambda: x1)(), PYU("bob", session)(lambda: w0)(), np.zeros(4))
        np.testing.assert_allclose(reveal(out), x1 @ w0, atol=1e-3)
        assert spu.stats.rounds > 0 and spu.stats.offline_bytes > 0  # shares moved over the link, dealer too
    finally:
        session.shutdown()
