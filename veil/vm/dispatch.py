"""IR opcode -> handler table. Handlers are thin calls into HAL, grouped by family in `handlers/`.

A handler is `fn(machine, op, args) -> list[Value]` where `machine.ctx` is the party's
ProtocolContext and `machine.run_region(region, args)` runs a nested region (control flow).
A missing handler raises `UnsupportedOpError(opcode, where=op.loc)`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from types import MappingProxyType
from typing import Any

from veil.errors import UnsupportedOpError
from veil.hal.value import Value
from veil.ir.program import Op

Handler = Callable[[Any, Op, list[Value]], list[Value]]


def _build() -> Mapping[str, Handler]:
    from veil.vm.handlers import batch, control, elementwise, linalg, reduce, shape

    table: dict[str, Handler] = {}
    for module in (elementwise, linalg, shape, reduce, control, batch):
        for name, fn in module.HANDLERS.items():
            if name in table:
                raise RuntimeError(f"vm.dispatch: opcode '{name}' has two handlers")
            table[name] = fn
    return MappingProxyType(table)


@cache
def table() -> Mapping[str, Handler]:
    """The read-only opcode -> handler table (built on first use, nothing runs at import time)."""
    return _build()


def lookup(op: Op) -> Handler:
    """The handler of `op`, or UnsupportedOpError naming the opcode and where it came from."""
    fn = table().get(op.opcode)
    if fn is None:
        raise UnsupportedOpError(op.opcode, where=op.loc, hint="the veil VM has no handler for this IR op")
    return fn
