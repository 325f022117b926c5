"""Driver-side input sharing and output reconstruction, per protocol (no link involved).

The simulator's driver (or a data owner outside the compute parties) turns a plaintext ring array
into one payload per compute party with a cryptographic stream, and reconstructs results from
the parties' payloads. Inside a running protocol, owners share with the `v2s` kernel instead.
"""

from __future__ import annotations

import numpy as np

from veil.config import ProtocolKind, RuntimeConfig
from veil.mpc import ring
from veil.mpc.prg import AesCtrStream


def _pair_dtype(ring_dt: np.dtype) -> np.dtype:
    return np.dtype([("s0", ring_dt), ("s1", ring_dt)])


def _additive(x: np.ndarray, n: int, stream: AesCtrStream) -> list[np.ndarray]:
    field = ring.field_of(x)
    shares = [stream.ring(field, x.shape) for _ in range(n - 1)]
    last = x
    for s in shares:
        last = ring.sub(last, s)
    return [*shares, last]


def share(config: RuntimeConfig, x: np.ndarray, stream: AesCtrStream) -> list[np.ndarray]:
    """Split ring array `x` into the per-party payloads of `config.protocol`."""
    n = config.world_size
    if config.protocol is ProtocolKind.REF2K:
        return [x.copy() for _ in range(n)]
    if config.protocol is ProtocolKind.SEMI2K:
        return _additive(x, n, stream)
    if config.protocol is ProtocolKind.ABY3:
        parts = _additive(x, 3, stream)
        out = []
        for i in range(3):
            payload = np.empty(x.shape, dtype=_pair_dtype(x.dtype))
            payload["s0"] = parts[i]
            payload["s1"] = parts[(i + 1) % 3]
            out.append(payload)
        return out
    raise ValueError(f"no input sharing for protocol {config.protocol.value}")


def reconstruct(config: RuntimeConfig, payloads: list[np.ndarray]) -> np.ndarray:
    """Recombine the parties' payloads of one value into its plaintext ring array."""
    if config.protocol is ProtocolKind.REF2K:
        return payloads[0]
    if config.protocol is ProtocolKind.SEMI2K:
        total = payloads[0]
        for p in payloads[1:]:
            total = ring.add(total, p)
        return total
    if config.protocol is ProtocolKind.ABY3:
        total = payloads[0]["s0"].copy()
        for p in payloads[1:]:
            total = ring.add(total, p["s0"].copy())
        return total
    raise ValueError(f"no reconstruction for protocol {config.protocol.value}")
