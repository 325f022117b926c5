"""Peak resident memory of a block of work, from the kernel's high-water mark (Linux), the same
way for veil and for SPU (whose C++ allocations Python's tracemalloc cannot see).

    with PeakRSS() as mem:
        run_the_job()
    mem.peak_mb, mem.delta_mb

Before the block, garbage is collected, glibc is asked to return freed heap to the system
(`malloc_trim`) and the kernel's peak (`VmHWM`) is reset through /proc/self/clear_refs, so
`delta_mb` (peak minus the resident size at the start) is the memory the block needed on top of
what the process already held. Nothing runs during the block, so timings inside it are not
disturbed (a sampler thread waking every few ms slowed a GIL-bound job by about 25%). Where the
reset is not allowed, a sampler thread is the fallback (`sampled` is then True). No dependency
on veil: the SPU venv imports this file too.
"""

from __future__ import annotations

import ctypes
import gc
import os
import threading
import time

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_mb() -> float:
    """Resident set size of this process in MB (nan where /proc is missing)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * _PAGE / 1e6
    except (OSError, IndexError, ValueError):
        return float("nan")


def _trim() -> None:
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _hwm_mb() -> float:
    """The kernel's peak resident size of this process (VmHWM) in MB, nan if unavailable."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1e3
    except (OSError, ValueError, IndexError):
        pass
    return float("nan")


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # 5: reset the peak resident set size (Linux >= 4.0)
        return True
    except OSError:
        return False


class PeakRSS:
    """Context manager: `base_mb` at entry, `peak_mb` while inside, `delta_mb` = peak - base."""

    def __init__(self, interval_s: float = 0.002) -> None:
        self.interval_s = interval_s
        self.base_mb = self.peak_mb = float("nan")
        self.sampled = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def delta_mb(self) -> float:
        return self.peak_mb - self.base_mb

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.peak_mb = max(self.peak_mb, rss_mb())

    def __enter__(self) -> PeakRSS:
        _trim()
        self.sampled = not _reset_hwm()
        self.base_mb = self.peak_mb = rss_mb()
        if self.sampled:
            self._thread = threading.Thread(target=self._sample, name="peak-rss", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
        peak = rss_mb() if self.sampled else _hwm_mb()
        self.peak_mb = max(self.peak_mb, peak)


if __name__ == "__main__":  # a quick self-check: a 200 MB allocation shows up
    with PeakRSS() as m:
        block = bytearray(200_000_000)
        block[::4096] = b"x" * len(block[::4096])
        time.sleep(0.05)
        del block
    print(f"base {m.base_mb:.0f} MB, peak {m.peak_mb:.0f} MB, delta {m.delta_mb:.0f} MB")
