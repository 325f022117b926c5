"""Frozen, validated runtime configuration (protocol, field, fixed point, approximations, timeouts).

A leaf module: every layer may import it; it imports nothing of veil but `errors`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from dataclasses import field as dc_field
from enum import Enum
from typing import Any

from veil.errors import ConfigError


class Field(Enum):
    """The ring Z_2^k that shares live in."""

    FM64 = 64
    FM128 = 128

    @property
    def bits(self) -> int:
        return self._value_  # not `self.value`: Enum's descriptor costs ~0.5 us (hot path)


class ProtocolKind(Enum):
    """The MPC protocol that executes secret kernels."""

    REF2K = "ref2k"
    SEMI2K = "semi2k"
    ABY3 = "aby3"


class TruncMode(Enum):
    """How a fixed-point product is rescaled (see docs/precision.md)."""

    PROBABILISTIC = "probabilistic"  # 1 round, <= 1 LSB error, no catastrophic error for |x| < 2^(k-2)
    LOCAL = "local"  # SecureML: 0 rounds, rare huge error; opt-in only


class ExpMode(Enum):
    TAYLOR = "taylor"
    PADE = "pade"
    PRIME = "prime"


class LogMode(Enum):
    POLYNOMIAL = "polynomial"


class ReciprocalMode(Enum):
    GOLDSCHMIDT = "goldschmidt"


class SigmoidMode(Enum):
    EXACT = "exact"  # 1 / (1 + exp(-x))
    SEGMENTS = "segments"  # piecewise linear
    POLYNOMIAL = "polynomial"


@dataclass(frozen=True)
class ApproxConfig:
    """Which approximation method each nonlinear function uses, and its knobs."""

    exp: ExpMode = ExpMode.TAYLOR
    exp_taylor_iters: int = 8
    log: LogMode = LogMode.POLYNOMIAL
    reciprocal: ReciprocalMode = ReciprocalMode.GOLDSCHMIDT
    reciprocal_iters: int = 2
    sigmoid: SigmoidMode = SigmoidMode.EXACT
    # log/reciprocal/sqrt find the highest set bit with sign tests: 2 stages (13 tests, 10 rounds
    # on FM64) or 1 stage (48 tests, 5 rounds): fewer bytes or fewer rounds
    normalize_stages: int = 2

    def __post_init__(self) -> None:
        _coerce_enums(self)
        if self.normalize_stages not in (1, 2):
            raise ConfigError(f"normalize_stages={self.normalize_stages}: must be 1 or 2 (default 2)")
        if not 1 <= self.exp_taylor_iters <= 16:
            raise ConfigError(f"exp_taylor_iters={self.exp_taylor_iters}: must be in 1..16 (SPU uses 8)")
        if not 1 <= self.reciprocal_iters <= 6:
            raise ConfigError(f"reciprocal_iters={self.reciprocal_iters}: must be in 1..6 (SPU uses 2)")


DEFAULT_FXP_BITS = {Field.FM64: 18, Field.FM128: 26}


@dataclass(frozen=True)
class RuntimeConfig:
    """Everything a party needs to run a program the same way as its peers.

    Strings are accepted for the enum fields (`protocol="semi2k"`, `field="FM64"`) and converted.
    `fxp_bits=None` picks SPU's default for the field (18 on FM64, 26 on FM128).
    """

    protocol: ProtocolKind = ProtocolKind.SEMI2K
    field: Field = Field.FM64
    fxp_bits: int | None = None
    world_size: int = 2
    trunc: TruncMode = TruncMode.PROBABILISTIC
    approx: ApproxConfig = dc_field(default_factory=ApproxConfig)
    link_timeout_s: float = 60.0
    seed: bytes | None = None  # None: fresh randomness per run; set only for reproducible tests
    # semi2k: reuse the Beaver mask of a secret matmul operand that is multiplied again in the
    # same run (the same value, e.g. the data X of a training loop): X - A is opened once
    beaver_cache: bool = True

    def __post_init__(self) -> None:
        _coerce_enums(self)
        if self.fxp_bits is None:
            object.__setattr__(self, "fxp_bits", DEFAULT_FXP_BITS[self.field])
        assert self.fxp_bits is not None
        k = self.field.bits
        if not 0 < self.fxp_bits <= k // 2 - 4:
            raise ConfigError(
                f"fxp_bits={self.fxp_bits} does not fit {self.field.name}: use 1..{k // 2 - 4} "
                f"(default {DEFAULT_FXP_BITS[self.field]})"
            )
        if self.world_size < 1:
            raise ConfigError(f"world_size={self.world_size}: need at least 1 party")
        if self.protocol is ProtocolKind.ABY3 and self.world_size != 3:
            raise ConfigError(f"aby3 runs on exactly 3 parties, got world_size={self.world_size}")
        if self.protocol is ProtocolKind.SEMI2K and self.world_size < 2:
            raise ConfigError(f"semi2k needs at least 2 parties, got world_size={self.world_size}")
        if self.link_timeout_s <= 0:
            raise ConfigError(f"link_timeout_s={self.link_timeout_s}: must be positive")
        if self.seed is not None and len(self.seed) != 32:
            raise ConfigError("seed must be 32 bytes (or None for fresh randomness)")

    @property
    def ring_bits(self) -> int:
        return self.field.bits

    @property
    def f(self) -> int:
        """Fraction bits (never None after validation)."""
        assert self.fxp_bits is not None
        return self.fxp_bits

    def with_(self, **changes: Any) -> RuntimeConfig:
        """A copy with some fields changed (validated again)."""
        if "field" in changes and "fxp_bits" not in changes:
            changes["fxp_bits"] = None
        return replace(self, **changes)


def _coerce_enums(obj: Any) -> None:
    """Turn strings given for enum-typed fields into the enum, with a clear error otherwise."""
    for f in fields(obj):
        enum_type = _ENUM_FIELDS.get(f.name)
        value = getattr(obj, f.name)
        if enum_type is None or isinstance(value, enum_type):
            continue
        try:
            if isinstance(value, str):
                coerced = next(
                    m for m in enum_type if value.lower() in (m.name.lower(), str(m.value).lower())
                )
            else:
                coerced = enum_type(value)
        except (StopIteration, ValueError):
            allowed = ", ".join(m.name for m in enum_type)
            raise ConfigError(f"{f.name}={value!r}: allowed values are {allowed}") from None
        object.__setattr__(obj, f.name, coerced)


_ENUM_FIELDS: dict[str, type[Enum]] = {
    "protocol": ProtocolKind,
    "field": Field,
    "trunc": TruncMode,
    "exp": ExpMode,
    "log": LogMode,
    "reciprocal": ReciprocalMode,
    "sigmoid": SigmoidMode,
}
