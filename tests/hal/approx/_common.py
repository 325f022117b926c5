"""Shared checks for the approximation tests: run a HAL function on secret inputs, compare it
with float64 numpy on the *encoded* inputs (so only the method's error is measured)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tests.hal.runner import config, run, secret
from veil.config import ApproxConfig, RuntimeConfig


def cfg_for(proto: str, field: str, **approx: Any) -> RuntimeConfig:
    """The runner's reproducible config, with ApproxConfig fields overridden."""
    cfg = config(proto, field)
    return cfg.with_(approx=ApproxConfig(**approx)) if approx else cfg


def quantize(cfg: RuntimeConfig, x: np.ndarray) -> np.ndarray:
    """x as the fixed-point encoding represents it."""
    return np.round(np.asarray(x, dtype=np.float64) * 2.0**cfg.f) / 2.0**cfg.f


def errors(
    cfg: RuntimeConfig, fn: Callable[..., Any], ref: Callable[..., np.ndarray], *xs: np.ndarray
) -> tuple[np.ndarray, np.ndarray, Any]:
    """(got, want on the encoded inputs, run result) for fn on secret inputs."""
    res = run(cfg, fn, *[secret(x) for x in xs])
    with np.errstate(all="ignore"):
        want = ref(*[quantize(cfg, x) for x in xs])
    return res.outputs[0], want, res


def assert_close(
    got: np.ndarray,
    want: np.ndarray,
    atol: float,
    rtol: float = 0.0,
    mask: np.ndarray | None = None,
    what: str = "",
) -> None:
    """|got - want| <= atol + rtol |want| wherever mask holds, with the worst case in the message."""
    m = np.ones(np.shape(want), bool) if mask is None else np.asarray(mask, bool)
    err = np.abs(got - want)[m]
    bound = atol + rtol * np.abs(want)[m]
    if np.any(err > bound):
        i = int(np.argmax(err - bound))
        raise AssertionError(
            f"{what}: error {err[i]:.3g} > {bound[i]:.3g} at want={want[m][i]:.6g}, got={got[m][i]:.6g} "
            f"(max abs error {err.max():.3g})"
        )


def max_rounds(res: Any) -> int:
    return max(s.rounds for s in res.stats)


def bytes_per_elem(res: Any, n: int) -> float:
    """Online bytes sent by party 0 per element (SPU's convention in REFERENCE.md)."""
    return res.stats[0].online.bytes_sent / n


def ids(params: Sequence[Any]) -> list[str]:
    return [str(p) for p in params]
