"""The `Link` contract: how one party moves numpy arrays to and from its peers.

Every protocol kernel talks through this interface only, so the in-memory link (threads) and the
network link (gRPC processes) are interchangeable. All waits time out; a failed peer surfaces as
`PartyError` naming it.

Ranks: compute parties are 0..world-1. The semi2k dealer, when present, has rank `dealer_rank(world)`
(= world); its traffic is counted as offline.

Collectives (send_to_all, recv_from_all, exchange, broadcast, all_gather) are free functions in
`veil.link.collectives` that work on any Link; link classes get them as methods from
`CollectivesMixin`. `veil.link.memory.run_job` runs a whole job on threads and returns stats.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from veil.errors import LinkError
from veil.link.stats import LinkStats


@runtime_checkable
class Link(Protocol):
    """One party's endpoint. Tags are short strings; a (peer, tag) pair is received in send order."""

    rank: int
    world: int  # number of compute parties (the dealer is not counted)
    stats: LinkStats

    def send(self, to: int, tag: str, array: np.ndarray) -> None:
        """Queue `array` for party `to` (non-blocking). Any dtype numpy can describe, incl. structured."""
        ...

    def recv(self, frm: int, tag: str) -> np.ndarray:
        """Block until the array sent by `frm` under `tag` arrives (or time out with LinkTimeoutError)."""
        ...

    def fail(self, reason: str) -> None:
        """Tell every peer this party failed, so their waits raise PartyError(rank, reason)."""
        ...

    def close(self) -> None:
        """Release resources; later calls raise LinkError."""
        ...


class PeerClosedError(LinkError):
    """`recv` from a peer that closed its link with nothing left queued under that tag.

    A serving loop (e.g. the semi2k dealer) may catch it to stop once the parties are done.
    """


def dealer_rank(world: int) -> int:
    """The dealer's rank in a job with `world` compute parties."""
    return world


def party_name(rank: int, world: int) -> int | str:
    """How errors name a rank: the compute party's number, or "dealer"."""
    return "dealer" if rank == world else rank
