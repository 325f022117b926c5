"""The rule signature shared by every rule module."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from veil.ir.program import Value

if TYPE_CHECKING:
    from veil.frontend.translate import Lowering

Rule = Callable[["Lowering", Any, list[Value]], list[Value]]
