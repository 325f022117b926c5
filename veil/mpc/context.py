"""The per-party protocol context passed explicitly down the stack (no global state)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from veil.config import Field, RuntimeConfig
from veil.link.base import Link
from veil.mpc.kernels import KernelTable

if TYPE_CHECKING:
    from veil.mpc.prg import PrgSet


@dataclass
class ProtocolContext:
    """What a kernel may use: who it is, how to talk, where randomness comes from, the config.

    `dealer` is the semi2k dealer client (None for other protocols); `scratch` is per-run state
    a protocol may keep (e.g. counters), owned by this context only.
    """

    rank: int
    world: int
    link: Link
    prg: PrgSet
    config: RuntimeConfig
    table: KernelTable
    dealer: Any = None
    scratch: dict[str, Any] = field(default_factory=dict)

    @property
    def field(self) -> Field:
        return self.config.field

    @property
    def k(self) -> int:
        f = self.config.field
        return 64 if f is Field.FM64 else f.bits  # hot (every kernel): skip the Enum machinery

    @property
    def protocol(self) -> str:
        return self.config.protocol.value
