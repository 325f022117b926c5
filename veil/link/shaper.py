"""Network shaping for benchmarks: per-direction latency and bandwidth on top of any link.

A message of n bytes sent on (src, dst) at time t starts transmitting when the previous message
on that direction has finished, takes n*8/bandwidth seconds, and becomes visible to the receiver
`latency` seconds after it finished: visible_at = max(t, busy_until) + n*8/bw + latency.
The link delays delivery until `visible_at`; senders never block (like a socket buffer).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

PRESETS: dict[str, tuple[float, float | None]] = {
    "100gbit_0ms": (0.0, 100e9),
    "1gbit_1ms": (0.001, 1e9),
    "100mbit_10ms": (0.010, 100e6),
    "10mbit_100ms": (0.100, 10e6),
}


@dataclass
class Shaper:
    """Latency (seconds) and optional bandwidth (bits per second) applied per (src, dst) direction.

    Holds the per-direction transmit queues of one job; give each hub its own Shaper.
    """

    latency_s: float
    bandwidth_bps: float | None = None
    _busy_until: dict[tuple[int, int], float] = field(default_factory=dict, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.latency_s >= 0:
            raise ValueError(f"Shaper: latency_s must be >= 0 seconds, got {self.latency_s}")
        if self.bandwidth_bps is not None and not self.bandwidth_bps > 0:
            raise ValueError(f"Shaper: bandwidth_bps must be > 0 bits/s or None, got {self.bandwidth_bps}")

    @classmethod
    def preset(cls, name: str) -> Shaper:
        """One of the network levels of REFERENCE.md's benchmarks (latency read as one-way)."""
        try:
            latency_s, bandwidth_bps = PRESETS[name]
        except KeyError:
            raise ValueError(f"Shaper: unknown preset {name!r}; choose one of {sorted(PRESETS)}") from None
        return cls(latency_s, bandwidth_bps)

    def transmit_time(self, nbytes: int) -> float:
        """Seconds the wire is busy sending `nbytes` (0 without a bandwidth limit)."""
        return 0.0 if self.bandwidth_bps is None else nbytes * 8.0 / self.bandwidth_bps

    def schedule(self, src: int, dst: int, nbytes: int, now: float | None = None) -> float:
        """Reserve the (src, dst) wire for a message; return its `time.monotonic()` visibility."""
        now = time.monotonic() if now is None else now
        with self._lock:
            start = max(now, self._busy_until.get((src, dst), 0.0))
            done = start + self.transmit_time(nbytes)
            self._busy_until[(src, dst)] = done
        return done + self.latency_s

    def reset(self) -> None:
        """Forget queued transmissions (between benchmark runs)."""
        with self._lock:
            self._busy_until.clear()
