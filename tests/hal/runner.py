"""Test runner for HAL/VM code: parties as threads over link/memory, inputs shared by the driver.

`run(config, fn, *args)` gives every party its payload of each argument (io.share for secrets,
copies for public, the owner's plaintext for private), calls `fn(ctx, *values)` on every party,
and returns the plaintext results: secrets reconstructed with io.reconstruct, public results
checked to be identical on every party, private results taken from the owner.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from veil.config import ProtocolKind, RuntimeConfig
from veil.dtypes import DType, Visibility
from veil.hal.value import Value
from veil.mpc import fxp_codec, io
from veil.mpc import ring as R

SEED = bytes(range(32))
FXP, INT, BOOL = DType.FXP, DType.INT, DType.BOOL
SECRET, PUBLIC, PRIVATE = Visibility.SECRET, Visibility.PUBLIC, Visibility.PRIVATE


@dataclass
class Arg:
    """One input: plaintext value, element kind and visibility (owner for PRIVATE)."""

    value: Any
    dtype: DType = FXP
    vis: Visibility = SECRET
    owner: int | None = None


def secret(x: Any, dtype: DType = FXP) -> Arg:
    return Arg(x, dtype, SECRET)


def public(x: Any, dtype: DType = FXP) -> Arg:
    return Arg(x, dtype, PUBLIC)


def private(x: Any, owner: int = 0, dtype: DType = FXP) -> Arg:
    return Arg(x, dtype, PRIVATE, owner)


def config(protocol: str = "semi2k", field: str = "FM64", world: int | None = None) -> RuntimeConfig:
    """A reproducible config; world defaults to 2 (3 for aby3, 1 is allowed for ref2k)."""
    n = world if world is not None else (3 if protocol == "aby3" else 2)
    return RuntimeConfig(protocol=protocol, field=field, world_size=n, seed=SEED, link_timeout_s=20.0)


def available(protocol: str) -> bool:
    """Whether the protocol can build its kernel table (helpers write protocols in parallel)."""
    try:
        from veil.mpc.protocols import build_table

        build_table(config(protocol))
    except Exception:  # noqa: BLE001 - any import/registration failure means "not landed yet"
        return False
    return True


CONFIGS = [("ref2k", "FM64"), ("semi2k", "FM64")]
EXTRA = [("semi2k", "FM128"), ("aby3", "FM64")]


def params(extra: bool = False) -> list[Any]:
    """pytest params (protocol, field) for the standard configs (+ FM128 and aby3 if asked)."""
    out = []
    for proto, field in CONFIGS + (EXTRA if extra else []):
        marks = [] if available(proto) else [pytest.mark.skip(reason=f"veil.mpc.{proto} not available yet")]
        out.append(pytest.param(proto, field, id=f"{proto}-{field}", marks=marks))
    return out


def encode(cfg: RuntimeConfig, a: Arg) -> np.ndarray:
    if a.dtype is FXP:
        return fxp_codec.encode_fxp(cfg.field, np.asarray(a.value, dtype=np.float64), cfg.f)
    return R.from_int64(cfg.field, np.asarray(a.value).astype(np.int64))


def _payloads(cfg: RuntimeConfig, args: Sequence[Arg]) -> list[list[np.ndarray | None]]:
    from veil.mpc.prg import AesCtrStream

    stream = AesCtrStream(SEED).fork("tests.hal.inputs")
    per_arg = []
    for a in args:
        ring_arr = encode(cfg, a)
        if a.vis is SECRET:
            per_arg.append(io.share(cfg, ring_arr, stream))
        elif a.vis is PUBLIC:
            per_arg.append([ring_arr.copy() for _ in range(cfg.world_size)])
        else:
            per_arg.append([ring_arr.copy() if r == a.owner else None for r in range(cfg.world_size)])
    return per_arg


def decode(v: Value, payload: np.ndarray) -> np.ndarray:
    if v.dtype is FXP:
        return fxp_codec.decode_fxp(payload, v.fxp_bits)
    return R.to_int64(payload).astype(np.float64)


@dataclass
class Result:
    outputs: list[np.ndarray]  # plaintext float64 of each returned Value
    values: list[list[Value]]  # per party
    stats: list[Any]  # per-party link snapshots taken after fn (before nothing else)
    extra: list[Any]  # per-party second return of fn when it returns (values, extra)


def run(cfg: RuntimeConfig, fn: Callable[..., Any], *args: Arg | Any) -> Result:
    """Run `fn(ctx, *values)` on every party; see the module docstring."""
    from veil.link.memory import run_parties
    from veil.mpc.protocols import make_context, run_dealer

    args_ = [a if isinstance(a, Arg) else secret(a) for a in args]
    per_arg = _payloads(cfg, args_)
    with_dealer = cfg.protocol is ProtocolKind.SEMI2K

    def party(link: Any) -> tuple[list[Value], Any, Any]:
        ctx = make_context(link, cfg, dealer_link_present=with_dealer)
        try:
            vals = []
            for a, pays in zip(args_, per_arg):
                fb = cfg.f if a.dtype is FXP else 0
                shape = tuple(np.shape(a.value))
                vals.append(Value(shape, a.dtype, a.vis, fb, pays[ctx.rank], a.owner))
            before = link.stats.snapshot()
            out = fn(ctx, *vals)
            extra = None
            if isinstance(out, tuple) and len(out) == 2 and not isinstance(out[0], Value):
                out, extra = out
            outs = [out] if isinstance(out, Value) else list(out)
            return outs, link.stats.snapshot() - before, extra
        finally:
            close = getattr(ctx.dealer, "close", None)
            if close is not None:
                close()

    dealer = (lambda link: run_dealer(link, cfg)) if with_dealer else None
    results = run_parties(cfg.world_size, party, timeout=cfg.link_timeout_s, dealer=dealer)
    values = [r[0] for r in results]
    outputs = [_open(cfg, [vs[i] for vs in values]) for i in range(len(values[0]))]
    return Result(outputs, values, [r[1] for r in results], [r[2] for r in results])


def _open(cfg: RuntimeConfig, vals: list[Value]) -> np.ndarray:
    v = vals[0]
    if v.vis is SECRET:
        return decode(v, io.reconstruct(cfg, [x.payload for x in vals]))
    if v.vis is PUBLIC:
        for other in vals[1:]:
            if not np.array_equal(np.asarray(other.payload), np.asarray(v.payload)):
                raise AssertionError("public result differs between parties")
        return decode(v, v.payload)
    held = [x for x in vals if x.payload is not None]
    if len(held) != 1 or held[0].owner is None or vals[held[0].owner].payload is None:
        raise AssertionError("private result must be held by exactly its owner")
    return decode(v, held[0].payload)


def ulp(cfg: RuntimeConfig) -> float:
    return 2.0**-cfg.f
