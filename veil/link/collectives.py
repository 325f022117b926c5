"""Collectives built only on `Link.send` / `Link.recv`, so every link implementation gets them.

Each is one round for the parties that receive (sends are issued before any wait). Peers are the
compute parties 0..world-1 other than the caller; a dealer link (rank == world) sends to and
receives from all compute parties.
"""

from __future__ import annotations

import numpy as np

from veil.errors import LinkError
from veil.link.base import Link


def peers(link: Link) -> list[int]:
    """Compute-party ranks other than this link's own rank."""
    return [r for r in range(link.world) if r != link.rank]


def send_to_all(link: Link, tag: str, array: np.ndarray) -> None:
    """Send the same array to every peer."""
    for r in peers(link):
        link.send(r, tag, array)


def recv_from_all(link: Link, tag: str) -> dict[int, np.ndarray]:
    """Receive one array from every peer under `tag`: {rank: array}."""
    return {r: link.recv(r, tag) for r in peers(link)}


def exchange(link: Link, peer: int, tag: str, array: np.ndarray) -> np.ndarray:
    """Send `array` to `peer` and receive its array under the same tag (one round)."""
    link.send(peer, tag, array)
    return link.recv(peer, tag)


def broadcast(link: Link, root: int, tag: str, array: np.ndarray | None) -> np.ndarray:
    """`root` sends `array` to all; everyone returns it (root returns its own array)."""
    if link.rank == root:
        if array is None:
            raise LinkError(f"broadcast '{tag}': root party {root} must pass an array, got None")
        send_to_all(link, tag, array)
        return array
    return link.recv(root, tag)


def all_gather(link: Link, tag: str, array: np.ndarray) -> list[np.ndarray]:
    """Everyone sends its array to all; returns the arrays of parties 0..world-1 by rank."""
    if link.rank >= link.world:
        raise LinkError(f"all_gather '{tag}': only compute parties take part, not the dealer")
    send_to_all(link, tag, array)
    got = recv_from_all(link, tag)
    got[link.rank] = array
    return [got[r] for r in range(link.world)]


class CollectivesMixin:
    """Method forms of the collectives for link classes (`self` must satisfy `Link`)."""

    def send_to_all(self: Link, tag: str, array: np.ndarray) -> None:
        send_to_all(self, tag, array)

    def recv_from_all(self: Link, tag: str) -> dict[int, np.ndarray]:
        return recv_from_all(self, tag)

    def exchange(self: Link, peer: int, tag: str, array: np.ndarray) -> np.ndarray:
        return exchange(self, peer, tag, array)

    def broadcast(self: Link, root: int, tag: str, array: np.ndarray | None) -> np.ndarray:
        return broadcast(self, root, tag, array)

    def all_gather(self: Link, tag: str, array: np.ndarray) -> list[np.ndarray]:
        return all_gather(self, tag, array)
