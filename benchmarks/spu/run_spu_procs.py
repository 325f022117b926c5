"""SecretFlow SPU 0.9.5 with one OS process per party over loopback brpc (run with .spu-venv/bin/python).

    .spu-venv/bin/python benchmarks/spu/run_spu_procs.py [--jobs lr,mlp] [--mlp-epochs 1,10]
        [--repeat 3] [--out FILE]

The deployment-shaped counterpart of run_spu_jobs.py (SPU's threaded simulator): the same jobs,
inputs and quality checks (its job builders are imported, not copied), "lr" = logistic
regression, 10 full-batch epochs and "mlp" = the flax MLP tutorial for each --mlp-epochs value,
both SEMI2K FM64, every input secret. The parent compiles once (spu_common.compile_fn) and
secret-shares the inputs (spu.api.Io); then it starts one process per party (this file with
--party: a fresh interpreter without the job code, i.e. no examples/, flax or sklearn), each of
which creates a brpc link `libspu.link.create_brpc(desc, rank)` to the others on 127.0.0.1
(SPU's default channel "baidu_std", see --brpc-protocol; recv timeout raised to 600 s) and keeps
it for all runs.
Per run, every party waits on a link barrier, then (timed) builds `spu.api.Runtime(link, config)`,
sets its input shares, runs the executable and reads its output shares -- the same span that
spu_common.run_once times for the simulator. run_s is the slowest party's time.

Like spu_common.measure: one run profiling rank 0 (party 0's bytes sent and send actions =
rounds; its outputs are revealed for the quality check), one run profiling every rank
(total_bytes), then --repeat unprofiled timed runs, all in the same party processes. SPU's
"Link details" line counts one run only (checked: four profiled runs on one brpc link each
report LR's 10,246,890 bytes / 1,460 actions, as the simulator does), so the barrier and the
link set-up are not in the counts.

Parent <-> party traffic is length-prefixed frames on the party's stdin/stdout: a JSON header,
then raw byte blobs (executable, serialised RuntimeConfig, share meta/chunks); no pickle.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

JOB_SPECS = {"lr": ("semi2k", "FM64", 2), "mlp": ("semi2k", "FM64", 2)}
RECV_TIMEOUT_MS = 600_000  # SPU's default is 30 s; 2 shared cores can stall a party longer


# ---------------------------------------------------------------- framing (both sides)


def send_msg(f: IO[bytes], header: dict, blobs: list[bytes] = ()) -> None:  # type: ignore[assignment]
    """One message: a JSON header frame (with the blob count), then each blob as a frame."""
    head = json.dumps({**header, "n_blobs": len(blobs)}).encode()
    for frame in (head, *blobs):
        f.write(struct.pack("<Q", len(frame)))
        f.write(frame)
    f.flush()


def _read_exact(f: IO[bytes], n: int) -> bytes:
    data = f.read(n)
    if data is None or len(data) != n:
        raise EOFError("party pipe closed")
    return data


def recv_msg(f: IO[bytes]) -> tuple[dict, list[bytes]]:
    """Inverse of send_msg."""
    frames = []
    (n,) = struct.unpack("<Q", _read_exact(f, 8))
    header = json.loads(_read_exact(f, n))
    for _ in range(header["n_blobs"]):
        (n,) = struct.unpack("<Q", _read_exact(f, 8))
        frames.append(_read_exact(f, n))
    return header, frames


# ---------------------------------------------------------------- party process


def party_main(rank: int, ports: list[int], protocol: str) -> int:
    """One party: brpc link to the others, then serve 'job' / 'run' / 'exit' messages."""
    import spu.api as spu_api
    import spu.libspu as libspu
    from spu_common import Captured, parse_link, share_from_blobs, share_to_blobs

    proto_in = sys.stdin.buffer
    proto_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # SPU / brpc logging on fd 1 must not corrupt the protocol pipe

    desc = libspu.link.Desc()
    for r, port in enumerate(ports):
        desc.add_party(f"id_{r}", f"127.0.0.1:{port}")
    desc.recv_timeout_ms = RECV_TIMEOUT_MS
    if protocol:
        desc.brpc_channel_protocol = protocol
    start = time.perf_counter()
    lctx = libspu.link.create_brpc(desc, rank)
    lctx.barrier()
    send_msg(proto_out, {"ready": time.perf_counter() - start})

    executable = cfg = None
    shares: list[Any] = []
    while True:
        header, blobs = recv_msg(proto_in)
        if header["cmd"] == "exit":
            break
        if header["cmd"] == "job":
            cfg = libspu.RuntimeConfig()
            cfg.ParseFromString(blobs[0])
            executable = libspu.Executable()
            executable.ParseFromString(blobs[1])
            shares, pos = [], 2
            for n in header["share_blobs"]:
                shares.append(share_from_blobs(blobs[pos : pos + n]))
                pos += n
            send_msg(proto_out, {"ok": True})
            continue
        rc = libspu.RuntimeConfig(cfg)
        rc.enable_pphlo_profile = rc.enable_hal_profile = bool(header["profile"])
        with Captured() as cap:
            lctx.barrier()
            t0 = time.perf_counter()
            rt = spu_api.Runtime(lctx, rc)
            for name, share in zip(executable.input_names, shares):
                rt.set_var(name, share)
            rt.run(executable)
            outs = [rt.get_var(name) for name in executable.output_names]
            seconds = time.perf_counter() - t0
            del rt
        reply: dict[str, Any] = {"seconds": seconds}
        link = parse_link(cap.text)
        if link:
            reply["sent_bytes"], reply["send_actions"] = link[-1]
        out_blobs: list[bytes] = []
        if header.get("outputs"):
            parts = [share_to_blobs(s) for s in outs]
            reply["out_blobs"] = [len(p) for p in parts]
            out_blobs = [b for p in parts for b in p]
        reply["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
        send_msg(proto_out, reply, out_blobs)
    proto_out.close()
    return 0


# ---------------------------------------------------------------- parent


def free_ports(n: int) -> list[int]:
    """n distinct loopback ports that were free a moment ago."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class Parties:
    """world party processes (this file with --party r), each with its own brpc link."""

    def __init__(self, world: int, protocol: str = "") -> None:
        ports = free_ports(world)
        self.logs = [tempfile.TemporaryFile() for _ in range(world)]
        cmd = [sys.executable, str(Path(__file__).resolve()), "--ports", ",".join(map(str, ports))]
        if protocol:
            cmd += ["--brpc-protocol", protocol]
        start = time.perf_counter()
        self.procs = [
            subprocess.Popen(
                [*cmd, "--party", str(r)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.logs[r]
            )
            for r in range(world)
        ]
        self.link_ready_s = [self.recv(r)[0]["ready"] for r in range(world)]
        self.startup_s = time.perf_counter() - start

    def send(self, rank: int, header: dict, blobs: list[bytes] = ()) -> None:  # type: ignore[assignment]
        send_msg(self.procs[rank].stdin, header, blobs)  # type: ignore[arg-type]

    def recv(self, rank: int) -> tuple[dict, list[bytes]]:
        try:
            return recv_msg(self.procs[rank].stdout)  # type: ignore[arg-type]
        except EOFError:
            self.logs[rank].seek(0)
            tail = self.logs[rank].read()[-3000:].decode("utf-8", "replace")
            raise RuntimeError(f"party {rank} died:\n{tail}") from None

    def close(self) -> None:
        for r, p in enumerate(self.procs):
            try:
                self.send(r, {"cmd": "exit"})
                p.stdin.close()  # type: ignore[union-attr]
            except OSError:
                pass
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        for f in self.logs:
            f.close()


def run_procs(cfg, executable, args, repeat: int, protocol: str = ""):  # type: ignore[no-untyped-def]
    """measure() over party processes: (revealed outputs, run times, per-run party times,
    party 0's (bytes, actions) of the rank-0 profiled run, every party's of the all-ranks run,
    extra facts)."""
    import numpy as np
    import spu.api as spu_api
    import spu.libspu as libspu
    from spu_common import share_from_blobs, share_to_blobs

    world = 2
    io = spu_api.Io(world, cfg)
    shares = [io.make_shares(np.asarray(a), libspu.Visibility.VIS_SECRET) for a in args]
    parties = Parties(world, protocol)
    try:
        exe_blob, cfg_blob = executable.SerializeToString(), cfg.SerializeToString()
        for r in range(world):
            parts = [share_to_blobs(s[r]) for s in shares]
            blobs = [cfg_blob, exe_blob] + [b for p in parts for b in p]
            parties.send(r, {"cmd": "job", "share_blobs": [len(p) for p in parts]}, blobs)
        for r in range(world):
            parties.recv(r)

        def run(profiled: set[int], outputs: bool) -> tuple[list[dict], list[list[bytes]], float]:
            start = time.perf_counter()
            for r in range(world):
                parties.send(r, {"cmd": "run", "profile": r in profiled, "outputs": outputs})
            replies = [parties.recv(r) for r in range(world)]
            return [h for h, _ in replies], [b for _, b in replies], time.perf_counter() - start

        heads0, blobs0, _ = run({0}, True)
        heads_all, _, _ = run(set(range(world)), False)
        times, party_times, parent_times = [], [], []
        heads = heads_all
        for _ in range(repeat):
            heads, _, wall = run(set(), False)
            party_times.append([h["seconds"] for h in heads])
            times.append(max(party_times[-1]))
            parent_times.append(wall)
        peak = [h["peak_rss_mb"] for h in heads]
    finally:
        parties.close()
    outs: list[list[Any]] = []
    for r in range(world):
        pos, mine = 0, []
        for n in heads0[r]["out_blobs"]:
            mine.append(share_from_blobs(blobs0[r][pos : pos + n]))
            pos += n
        outs.append(mine)
    revealed = [io.reconstruct([outs[r][i] for r in range(world)]) for i in range(len(outs[0]))]
    p0 = (heads0[0]["sent_bytes"], heads0[0]["send_actions"])
    everyone = [(h["sent_bytes"], h["send_actions"]) for h in heads_all]
    extra = {
        "parent_wall_s_all": parent_times,
        "party_run_s_all": party_times,
        "link_setup_s": parties.link_ready_s,
        "procs_startup_s": parties.startup_s,
        "party_peak_rss_mb": peak,
    }
    return revealed, times, p0, everyone, extra


def run_job(name: str, repeat: int, mlp_epochs: int, protocol: str) -> dict:
    """One job's JSON row (fields as run_spu_jobs.py's, plus the process facts)."""
    import jax
    import run_spu_jobs as rj
    from spu_common import compile_fn, make_config

    proto, field, world = JOB_SPECS[name]
    cfg = make_config(proto, field)
    fn, args, quality = rj._lr_job() if name == "lr" else rj._mlp_job(n_epochs=mlp_epochs)
    executable, compile_s, _ = compile_fn(fn, args, world)
    out_tree = jax.tree_util.tree_structure(jax.eval_shape(fn, *args))
    flat, times, p0, everyone, extra = run_procs(
        cfg, executable, jax.tree_util.tree_leaves(args), repeat, protocol
    )
    out = jax.tree_util.tree_unflatten(out_tree, flat)
    row: dict[str, Any] = {
        "side": "spu_procs",
        "job": name,
        "epochs": 10 if name == "lr" else mlp_epochs,
        "protocol": proto,
        "field": field,
        "link": f"brpc loopback ({protocol or 'baidu_std'}), one process per party",
        "compile_s": compile_s,
        "run_s": statistics.median(times),
        "run_s_all": times,
        "party0_bytes": p0[0],
        "total_bytes": sum(b for b, _ in everyone),
        "rounds": p0[1],
        "max_rounds": max(a for _, a in everyone),
    }
    row.update(extra)
    row.update(quality(out))
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jobs", default="lr,mlp")
    p.add_argument("--mlp-epochs", default="1", help="comma list, one mlp row per value (e.g. 1,10)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--out", default="-")
    p.add_argument("--brpc-protocol", default="", help="libspu.link.Desc.brpc_channel_protocol")
    p.add_argument("--party", type=int, default=-1, help=argparse.SUPPRESS)
    p.add_argument("--ports", default="", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.party >= 0:
        return party_main(a.party, [int(x) for x in a.ports.split(",")], a.brpc_protocol)
    out = sys.stdout if a.out == "-" else open(a.out, "a", encoding="utf-8")  # noqa: SIM115
    for name in [j for j in a.jobs.split(",") if j]:
        if name not in JOB_SPECS:
            raise SystemExit(f"unknown job {name!r}; choose from {','.join(JOB_SPECS)}")
        for epochs in [int(e) for e in a.mlp_epochs.split(",")] if name == "mlp" else [10]:
            try:
                row = run_job(name, a.repeat, epochs, a.brpc_protocol)
            except Exception as e:  # noqa: BLE001 - one failing job must not stop the others
                row = {
                    "side": "spu_procs",
                    "job": name,
                    "epochs": epochs,
                    "error": f"{type(e).__name__}: {e}",
                }
            out.write(json.dumps(row) + "\n")
            out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
