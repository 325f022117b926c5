"""veil: privacy-preserving machine learning on secret shares.

Public API (re-exports only; importing veil has no side effects):
    veil.jit(fn, protocol="semi2k", field="FM64", parties=2)  -> secure callable
    veil.public(x)                                             -> mark an input public
    veil.RuntimeConfig, veil.ApproxConfig                      -> configuration
"""

from veil.config import ApproxConfig, Field, ProtocolKind, RuntimeConfig, TruncMode
from veil.device.jit import JitFunction, jit
from veil.errors import (
    CompileError,
    ConfigError,
    KernelMissingError,
    LinkError,
    PartyError,
    UnsupportedOpError,
    VeilError,
)
from veil.frontend import public

__all__ = [
    "ApproxConfig",
    "CompileError",
    "ConfigError",
    "Field",
    "JitFunction",
    "KernelMissingError",
    "LinkError",
    "PartyError",
    "ProtocolKind",
    "RuntimeConfig",
    "TruncMode",
    "UnsupportedOpError",
    "VeilError",
    "jit",
    "public",
]
