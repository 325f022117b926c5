"""Element kinds and visibilities: a leaf module every layer may import (like config, errors)."""

from __future__ import annotations

from enum import Enum


class DType(Enum):
    """Element kind. Floats become fixed point; JAX ints become ring integers; bools are 0/1."""

    FXP = "fxp"
    INT = "int"
    BOOL = "bool"


class Visibility(Enum):
    """Who can see a value. Order for joins: PUBLIC < PRIVATE < SECRET."""

    PUBLIC = "public"
    PRIVATE = "private"  # plaintext at one party (TensorType.owner); others hold nothing
    SECRET = "secret"


_RANK = {Visibility.PUBLIC: 0, Visibility.PRIVATE: 1, Visibility.SECRET: 2}


def vis_rank(v: Visibility) -> int:
    """Order used by joins: PUBLIC < PRIVATE < SECRET."""
    return _RANK[v]
