"""Protocol factory: build a party's `ProtocolContext` (PRGs, kernel table, dealer client).

`make_context` runs on every compute party, `run_dealer` on the semi2k dealer (a thread in
simulation, a process in deployment). Both agree PRG keys in one round and then reset the link
counters, so the stats a caller reads afterwards cover its kernels only.
"""

from __future__ import annotations

import importlib

from veil.config import ProtocolKind, RuntimeConfig
from veil.errors import ConfigError
from veil.link.base import Link, dealer_rank
from veil.mpc import dealer as dealer_mod
from veil.mpc.context import ProtocolContext
from veil.mpc.dealer_service import DealerClient, serve
from veil.mpc.kernels import KernelTable
from veil.mpc.prg import setup_prgs

DEALER_IDLE_FACTOR = 10  # the dealer waits up to this many link timeouts between requests


def protocol_world_ok(config: RuntimeConfig, world: int | None = None) -> None:
    """Raise ConfigError if the protocol cannot run on `world` (default config.world_size) parties."""
    n = config.world_size if world is None else world
    kind = config.protocol
    if world is not None and world != config.world_size:
        raise ConfigError(f"the link has {world} compute parties but config.world_size={config.world_size}")
    if kind is ProtocolKind.SEMI2K and n < 2:
        raise ConfigError(f"semi2k needs at least 2 parties, got {n}; use ref2k to run on one")
    if kind is ProtocolKind.ABY3 and n != 3:
        raise ConfigError(f"aby3 runs on exactly 3 parties, got {n}; use semi2k for other sizes")
    if n < 1:
        raise ConfigError(f"need at least 1 compute party, got {n}")


def needs_dealer(config: RuntimeConfig) -> bool:
    """Whether the protocol uses the trusted dealer role."""
    return config.protocol is ProtocolKind.SEMI2K


def build_table(config: RuntimeConfig) -> KernelTable:
    """The protocol's kernels for this config (explicit registration, chosen by world size)."""
    table = KernelTable(config.protocol.value)
    if config.protocol is ProtocolKind.REF2K:
        from veil.mpc import ref2k

        ref2k.register(table)
    elif config.protocol is ProtocolKind.SEMI2K:
        from veil.mpc import semi2k

        semi2k.register(table, config.world_size, config.trunc)
    elif config.protocol is ProtocolKind.ABY3:
        aby3 = importlib.import_module("veil.mpc.aby3")
        aby3.register(table)
    else:  # pragma: no cover - enum is exhaustive
        raise ConfigError(f"unknown protocol {config.protocol}")
    return table


def _semi2k_recipes() -> dealer_mod.RecipeBook:
    from veil.mpc.semi2k.correlations import RECIPES

    return RECIPES


def make_context(link: Link, config: RuntimeConfig, *, dealer_link_present: bool) -> ProtocolContext:
    """Set up one compute party: PRG keys (one round), kernels, dealer client; then reset stats."""
    protocol_world_ok(config, link.world)
    if not 0 <= link.rank < link.world:
        raise ConfigError(f"make_context: rank {link.rank} is not a compute party (0..{link.world - 1})")
    dealer = dealer_rank(link.world)
    peers = [r for r in range(link.world) if r != link.rank]
    if needs_dealer(config):
        if not dealer_link_present:
            raise ConfigError(
                f"party {link.rank}: semi2k needs the dealer role (rank {dealer}); start the job with a "
                "dealer (run_parties(..., dealer=...)) or pick a dealer-free protocol (aby3, ref2k)"
            )
        peers.append(dealer)
    table = build_table(config)
    prg = setup_prgs(link, peers, seed=config.seed)
    ctx = ProtocolContext(link.rank, link.world, link, prg, config, table)
    if needs_dealer(config):
        ctx.dealer = DealerClient(link, prg.pair(dealer), _semi2k_recipes())
    link.stats.reset()
    return ctx


def run_dealer(link: Link, config: RuntimeConfig, max_idle_s: float | None = None) -> int:
    """The semi2k dealer: agree keys with every compute party, then serve until told to stop
    or until the parties close. Returns the number of correlations served."""
    protocol_world_ok(config, link.world)
    if link.rank != dealer_rank(link.world):
        raise ConfigError(f"run_dealer: rank {link.rank} is not the dealer rank {dealer_rank(link.world)}")
    if not needs_dealer(config):
        raise ConfigError(f"protocol {config.protocol.value} has no dealer role")
    prg = setup_prgs(link, list(range(link.world)), seed=config.seed)
    link.stats.reset()
    idle = DEALER_IDLE_FACTOR * config.link_timeout_s if max_idle_s is None else max_idle_s
    streams = {r: prg.pair(r) for r in range(link.world)}
    return serve(link, streams, prg.private, idle, _semi2k_recipes())
