"""Progress of long jobs: per-party counters, and a progress line on the driver's stderr.

Each party runs a `Tracker` as its VM `on_op` hook: one increment and one dict lookup per
executed op (the hot path). The tracker knows, from the program, the first leaf op of every
top-level `loop`/`while` body, so it counts iterations of the top-level loop being run
("epoch 3/10") and an estimate of the total op count. Reports are pulled, not pushed: the
driver polls the nodes (control op `progress`) every `POLL_S`; the in-process simulation calls
its sink at most every `POLL_S`. `ProgressLine` draws the line (only for jobs longer than
`DELAY_S`, redrawn in place on a terminal, one line every `PLAIN_EVERY_S` otherwise).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TextIO

from veil.ir.program import Op, Program, Region

POLL_S = 0.5
DELAY_S = 1.0
PLAIN_EVERY_S = 5.0


@dataclass
class Progress:
    """One party's progress in one job."""

    party: str
    ops_done: int = 0
    ops_total: int = 0  # static estimate (while loops count once; cond takes the largest branch)
    loop: int = 0  # which top-level loop is running (1-based), 0 before the first
    loop_i: int = 0  # its current iteration (1-based)
    loop_n: int | None = None  # its trip count (None for a while loop)
    elapsed_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Progress:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})

    @property
    def fraction(self) -> float:
        return min(self.ops_done / self.ops_total, 1.0) if self.ops_total else 0.0


ProgressSink = Callable[[Sequence[Progress]], None]


def _leaf_count(region: Region) -> int:
    total = 0
    for op in region.ops:
        if not op.regions:
            total += 1
        elif op.opcode == "loop":
            total += int(op.attrs.get("trip_count", 1)) * _leaf_count(op.regions[0])
        elif op.opcode == "while":
            total += sum(_leaf_count(r) for r in op.regions)
        else:  # cond: one branch runs
            total += max((_leaf_count(r) for r in op.regions), default=0)
    return total


def _first_leaf(region: Region) -> Op | None:
    for op in region.ops:
        if not op.regions:
            return op
        if op.opcode in ("loop", "while"):
            found = _first_leaf(op.regions[0])
            if found is not None:
                return found
    return None


class Tracker:
    """Counts one party's executed ops and top-level loop iterations (see the module docstring)."""

    def __init__(self, program: Program, party: str) -> None:
        self.party = party
        self.ops_total = _leaf_count(program.body)
        self.ops_done = 0
        self.loop = 0
        self.loop_i = 0
        self.loop_n: int | None = None
        self.start = time.monotonic()
        self._marks: dict[int, tuple[int, int | None]] = {}
        k = 0
        for op in program.body.ops:
            if op.opcode in ("loop", "while"):
                k += 1
                first = _first_leaf(op.regions[0])
                if first is not None:
                    trip = int(op.attrs["trip_count"]) if op.opcode == "loop" else None
                    self._marks[id(first)] = (k, trip)

    def on_op(self, op: Op, seconds: float, delta: Any) -> None:
        """The VM hook (hot path)."""
        self.ops_done += 1
        mark = self._marks.get(id(op))
        if mark is not None:
            if mark[0] != self.loop:
                self.loop, self.loop_n, self.loop_i = mark[0], mark[1], 0
            self.loop_i += 1

    def snapshot(self) -> Progress:
        return Progress(
            self.party, self.ops_done, self.ops_total, self.loop, self.loop_i, self.loop_n,
            time.monotonic() - self.start,
        )  # fmt: skip


class Throttled:
    """An `on_op` hook that feeds a tracker and calls `sink` at most every `every` seconds."""

    def __init__(self, tracker: Tracker, sink: ProgressSink, every: float = POLL_S) -> None:
        self.tracker = tracker
        self.sink = sink
        self.every = every
        self._next = time.monotonic() + every

    def on_op(self, op: Op, seconds: float, delta: Any) -> None:
        self.tracker.on_op(op, seconds, delta)
        now = time.monotonic()
        if now >= self._next:
            self._next = now + self.every
            self.sink([self.tracker.snapshot()])


def format_line(job: str, reports: Sequence[Progress], width: int = 20) -> str:
    """'veil j3 [#######.............]  35%  loop 1: 4/10  alice 1200/3400 ops, bob ...  12.3 s'."""
    if not reports:
        return f"veil {job}: starting"
    slowest = min(reports, key=lambda p: p.fraction)
    filled = int(round(slowest.fraction * width))
    parts = [f"veil {job} [{'#' * filled}{'.' * (width - filled)}] {slowest.fraction * 100:3.0f}%"]
    if slowest.loop:
        n = "?" if slowest.loop_n is None else str(slowest.loop_n)
        parts.append(f"loop {slowest.loop}: {slowest.loop_i}/{n}")
    parts.append(", ".join(f"{p.party} {p.ops_done}/{p.ops_total}" for p in reports) + " ops")
    parts.append(f"{max(p.elapsed_s for p in reports):.1f} s")
    return "  ".join(parts)


class ProgressLine:
    """A progress sink that draws one line on `stream` (stderr by default)."""

    def __init__(self, job: str = "", stream: TextIO | None = None, delay: float = DELAY_S) -> None:
        self.job = job
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = time.monotonic()
        self.delay = delay
        self.shown = False
        self._last_plain = 0.0
        self._lock = threading.Lock()

    def __call__(self, reports: Sequence[Progress]) -> None:
        now = time.monotonic()
        if now - self.start < self.delay:
            return
        line = format_line(self.job, reports)
        with self._lock:
            if self.tty:
                self.stream.write("\r\x1b[K" + line)
            elif now - self._last_plain >= PLAIN_EVERY_S:
                self._last_plain = now
                self.stream.write(line + "\n")
            else:
                return
            self.shown = True
            self.stream.flush()

    def close(self, reports: Sequence[Progress] | None = None) -> None:
        """End the line (a final report, if the line was ever shown)."""
        with self._lock:
            if not self.shown:
                return
            if reports:
                line = format_line(self.job, reports)
                self.stream.write(("\r\x1b[K" if self.tty else "") + line + " done\n")
            elif self.tty:
                self.stream.write("\n")
            self.stream.flush()


def make_sink(progress: ProgressSink | bool | None, job: str = "") -> ProgressSink | None:
    """True -> a ProgressLine on stderr; a callable is used as is; False/None -> no progress."""
    if progress is None or progress is False:
        return None
    if progress is True:
        return ProgressLine(job)
    if not callable(progress):
        raise TypeError(f"progress must be a bool or a callable, got {type(progress).__name__}")
    return progress
