"""veil: privacy-preserving machine learning on secret shares.

Public API (re-exports only; importing veil has no side effects and loads nothing heavy):
    veil.jit(fn, protocol="semi2k", field="FM64", parties=2)  -> secure callable
    veil.public(x)                                             -> mark an input public
    veil.RuntimeConfig, veil.ApproxConfig                      -> configuration
    veil.init / PYU / SPU / reveal / cluster_def / shutdown    -> SecretFlow-style devices (veil.device.api)
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from veil.config import ApproxConfig, Field, ProtocolKind, RuntimeConfig, TruncMode
from veil.errors import (
    CompileError,
    ConfigError,
    KernelMissingError,
    LinkError,
    PartyError,
    UnsupportedOpError,
    VeilError,
)

_LAZY = {
    "jit": "veil.device.jit",
    "JitFunction": "veil.device.jit",
    "public": "veil.frontend.trace",
    "private": "veil.device.private",
    "init": "veil.device.api",
    "shutdown": "veil.device.api",
    "reveal": "veil.device.api",
    "PYU": "veil.device.api",
    "SPU": "veil.device.api",
    "cluster_def": "veil.device.api",
}


def __getattr__(name: str) -> Any:
    """Load the runtime API on first use, so `import veil.mpc.ring` stays light."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'veil' has no attribute '{name}'")
    return getattr(import_module(module), name)


__all__ = [
    "ApproxConfig",
    "CompileError",
    "ConfigError",
    "Field",
    "JitFunction",
    "KernelMissingError",
    "LinkError",
    "PYU",
    "PartyError",
    "ProtocolKind",
    "RuntimeConfig",
    "SPU",
    "TruncMode",
    "UnsupportedOpError",
    "VeilError",
    "cluster_def",
    "init",
    "jit",
    "private",
    "public",
    "reveal",
    "shutdown",
]
