"""The semi2k dealer's service over the link: the client a compute party calls, and the serve loop.

The last party sends a request (`TAG_REQ`: kind + parameters, `REQ_BYTES`) and receives ONE
adjust (`TAG_ADJ`); the other parties draw their shares without talking. The recipes and the
share algebra they are written in live in `veil.mpc.dealer`.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from veil.errors import LinkError, LinkTimeoutError, VeilError
from veil.link.base import Link, PeerClosedError
from veil.mpc.dealer import REQ_WORDS, STOP, TAG_ADJ, TAG_REQ, Corr, RecipeBook, Shared
from veil.mpc.prg import AesCtrStream

# ------------------------------------------------------------------------------------- client


def mine(x: Any) -> Any:
    """A client's shares in a recipe's output (Shared -> its `mine`, recursively)."""
    if isinstance(x, Shared):
        return x.mine
    if isinstance(x, (list, tuple)):
        return type(x)([v.mine if type(v) is Shared else mine(v) for v in x])
    return x


class DealerClient:
    """A compute party's view of the dealer: one call per correlation, shares in the party's order."""

    def __init__(self, link: Link, stream: AesCtrStream, recipes: RecipeBook) -> None:
        self.link = link
        self.recipes = recipes
        self.rank = link.rank
        self.world = link.world
        self.stream = stream

    def get(self, kind: int, *params: int) -> tuple[Any, ...]:
        """Draw correlation `kind`; the last party fetches its adjust from the dealer."""
        recipe = self.recipes.get(kind)
        if recipe is None or len(params) != recipe.arity:
            raise ValueError(f"dealer: unknown correlation kind {kind} or wrong parameters {params}")
        adjust = None
        if self.rank == self.world - 1:
            req = np.zeros(REQ_WORDS, np.uint64)
            req[0], req[1 : 1 + len(params)] = kind, params
            self.link.send(self.world, TAG_REQ, req)
            adjust = self.link.recv(self.world, TAG_ADJ)
        corr = Corr(self.world, {self.rank: self.stream}, self.rank, adjust)
        out = recipe.fn(corr, *params)
        corr.check_consumed()
        return mine(out)

    def stop(self) -> None:
        """Tell the dealer to stop serving (sent by the last party; others do nothing)."""
        if self.rank == self.world - 1:
            self.link.send(self.world, TAG_REQ, np.zeros(REQ_WORDS, np.uint64))

    def close(self) -> None:
        """Best-effort `stop` at the end of a job: never raises (the link may already be down)."""
        try:
            self.stop()
        except VeilError:
            pass


# ------------------------------------------------------------------------------------- server


def serve(
    link: Link,
    streams: dict[int, AesCtrStream],
    private: AesCtrStream,
    max_idle_s: float,
    recipes: RecipeBook,
) -> int:
    """The dealer loop: answer the last party's requests until STOP or until the parties close.

    Each wait is bounded by the link timeout; idle waits are retried until `max_idle_s` has
    passed since the last request. Returns the number of correlations served.
    """
    world = link.world
    send_adjust = getattr(link, "send_donated", link.send)  # the adjust is never touched again
    served, last_seen = 0, time.monotonic()
    store: dict[str, Any] = {}  # lives for this serve loop (one job), shared by its requests
    while True:
        try:
            req = link.recv(world - 1, TAG_REQ)
        except PeerClosedError:
            return served
        except LinkTimeoutError:
            if time.monotonic() - last_seen > max_idle_s:
                raise
            continue
        last_seen = time.monotonic()
        kind, params = parse_request(req, recipes)
        if kind == STOP:
            return served
        corr = Corr(world, streams, world, private=private, store=store)
        recipes[kind].fn(corr, *params)
        adjust = corr.adjust_bytes()
        del corr  # the recipe's dealer-side values are no longer needed once the adjust is built
        send_adjust(world - 1, TAG_ADJ, adjust)
        del adjust
        served += 1


def parse_request(req: np.ndarray, recipes: RecipeBook) -> tuple[int, tuple[int, ...]]:
    """(kind, parameters) of a request; LinkError if malformed or unknown."""
    if req.dtype != np.uint64 or req.shape != (REQ_WORDS,):
        raise LinkError(
            f"dealer: malformed request ({req.dtype}, {req.shape}); expected {REQ_WORDS} uint64 words"
        )
    kind = int(req[0])
    if kind != STOP and kind not in recipes:
        raise LinkError(
            f"dealer: unknown correlation kind {kind} (client and dealer run different versions?)"
        )
    arity = recipes[kind].arity if kind != STOP else 0
    return kind, tuple(req[1 : 1 + arity].tolist())  # Python ints
