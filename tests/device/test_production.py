"""Production mode (multi-controller): every party runs its own script with
`veil.init(cluster=..., self_party=...)`, the semi2k dealer runs `veil node --production`.
Each party compiles the SPU function itself; the parties compare program hashes before running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from veil.device.launcher import free_ports
from veil.link.tls import generate_test_pki

pytestmark = pytest.mark.timeout(90)
ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, sys
import numpy as np
import veil
import veil.device.api

me = sys.argv[1]
out = {}
veil.init(cluster=sys.argv[2], self_party=me)
alice, bob = veil.PYU("alice"), veil.PYU("bob")
spu = veil.SPU()
x1 = alice(lambda: np.arange(12.0).reshape(4, 3) / 10)()     # runs at alice only
w = bob(lambda: np.full((3, 2), 0.5))()                       # runs at bob only
out["placeholder"] = (x1.placeholder, w.placeholder)
out["tls"] = veil.device.api.current_session().production.link._tls is not None
y = spu(lambda a, b: a @ b + 1.0)(x1, w)
out["reveal"] = veil.reveal(y).tolist()
at_alice = y.to(alice)
out["to_alice"] = None if at_alice.placeholder else at_alice.data.tolist()
mine = (lambda a: a * 2.0) if me == "alice" else (lambda a: a * 3.0)   # the scripts disagree
try:
    spu(mine)(y)
    out["mismatch"] = "ran"
except veil.CompileError as e:
    out["mismatch"] = str(e)
out["after"] = float(veil.reveal(spu(lambda a: a.sum())(y)))
veil.shutdown()
print(json.dumps(out), flush=True)
"""


@pytest.mark.parametrize("tls", [False, True])
def test_two_parties_run_their_own_scripts(tmp_path: Path, tls: bool) -> None:
    """With tls=True every link (alice, bob, the dealer) uses mutual TLS from the config's files."""
    ports = free_ports(3)
    cfg = {
        "parties": [
            {"name": "alice", "address": f"127.0.0.1:{ports[0]}"},
            {"name": "bob", "address": f"127.0.0.1:{ports[1]}"},
        ],
        "dealer": {"name": "dealer", "address": f"127.0.0.1:{ports[2]}"},
        "protocol": "semi2k",
        "field": "FM64",
        "timeouts": {"link_s": 20, "heartbeat_s": 0.5},
    }
    if tls:  # relative paths: taken from the cluster file's directory
        generate_test_pki(tmp_path / "pki", ["alice", "bob", "dealer"])
        cfg["tls"] = {
            n: {"ca": "pki/ca.pem", "cert": f"pki/{n}.pem", "key": f"pki/{n}.key"}
            for n in ("alice", "bob", "dealer")
        }
    (tmp_path / "cluster.yaml").write_text(yaml.safe_dump(cfg))
    (tmp_path / "script.py").write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GRPC_VERBOSITY": "ERROR"}
    dealer = subprocess.Popen(
        [sys.executable, "-m", "veil.cli", "node", "--config", "cluster.yaml", "--party", "dealer", "--production"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    parties = {
        me: subprocess.Popen(
            [sys.executable, "script.py", me, "cluster.yaml"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for me in ("alice", "bob")
    }
    try:
        results = {}
        for me, p in parties.items():
            stdout, stderr = p.communicate(timeout=80)
            assert p.returncode == 0, f"{me} failed:\n{stderr[-3000:]}"
            results[me] = json.loads(stdout.strip().splitlines()[-1])
        dealer_out, _ = dealer.communicate(timeout=20)
        assert dealer.returncode == 0, dealer_out[-2000:]
    finally:
        for p in (dealer, *parties.values()):
            p.kill()
    x1, w = np.arange(12.0).reshape(4, 3) / 10, np.full((3, 2), 0.5)
    want = x1 @ w + 1.0
    a, b = results["alice"], results["bob"]
    assert a["placeholder"] == [False, True] and b["placeholder"] == [True, False]
    assert a["tls"] is tls and b["tls"] is tls
    for r in (a, b):
        np.testing.assert_allclose(r["reveal"], want, atol=1e-4)
        assert "program hash mismatch" in r["mismatch"]
        assert abs(r["after"] - want.sum()) < 1e-3
    np.testing.assert_allclose(a["to_alice"], want, atol=1e-4)
    assert b["to_alice"] is None
    assert "served" in dealer_out
