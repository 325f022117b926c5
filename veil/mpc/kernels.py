"""Kernels and the table that finds them by name, each with a declared cost.

A protocol registers its kernels with an explicit `register(table)` call. Each kernel declares
its cost as functions of (numel, k = ring bits, n = world size); `tests/mpc/test_costs.py` runs
every kernel over the in-memory link and checks the measured `LinkStats` against the
declaration, which keeps the cost docs true by construction.

Cost conventions:
- `rounds`: the maximum over parties of send-then-wait steps (see `LinkStats.rounds`).
- `online_bytes`: payload bytes sent by all compute parties together, dealer excluded.
- `offline_bytes`: payload bytes sent by the dealer (plus requests to it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from veil.errors import KernelMissingError

CostFn = Callable[[int, int, int], int]  # (numel, k, n) -> count


def const(value: int) -> CostFn:
    """A cost that does not depend on size."""
    return lambda numel, k, n: value


ZERO: CostFn = const(0)


@dataclass(frozen=True)
class Cost:
    rounds: CostFn = ZERO
    online_bytes: CostFn = ZERO
    offline_bytes: CostFn = ZERO
    note: str = ""  # error behaviour, e.g. "<= 1 LSB error; exact for |x| < 2^(k-2)"


@dataclass(frozen=True)
class Kernel:
    name: str
    fn: Callable[..., Any]
    cost: Cost = field(default_factory=Cost)


@dataclass(frozen=True, eq=False)
class OperandKey:
    """Names a matmul operand as `transpose(source, perm)` for a protocol that caches Beaver masks
    per secret value (semi2k `matmul_ss_cached`). `source` is the payload the operand came from,
    compared by identity: the caller promises it is never mutated, and that identity between
    payloads is the same on every party (true above the protocol layer: kernels return new arrays)."""

    source: np.ndarray
    perm: tuple[int, ...]


class KernelTable:
    """Kernels of one protocol, looked up by name. Built per context; no global registry."""

    def __init__(self, protocol: str) -> None:
        self.protocol = protocol
        self._kernels: dict[str, Kernel] = {}

    def register(self, name: str, fn: Callable[..., Any], cost: Cost | None = None) -> None:
        if name in self._kernels:
            raise ValueError(f"kernel '{name}' registered twice for protocol '{self.protocol}'")
        self._kernels[name] = Kernel(name, fn, cost or Cost())

    def has(self, name: str) -> bool:
        return name in self._kernels

    def lookup(self, name: str, op: str = "") -> Kernel:
        try:
            return self._kernels[name]
        except KeyError:
            raise KernelMissingError(self.protocol, name, op) from None

    def names(self) -> list[str]:
        return sorted(self._kernels)
