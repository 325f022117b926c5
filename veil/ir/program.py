"""SSA programs: values, ops, closed regions, and a builder.

A `Program` is a `Region` whose params are the program inputs and whose results are its
outputs. Every `Value` is defined once (a region param or an op output) and used only inside
the region that defines it or by ops of that region (regions are closed: no captures).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from veil.ir.types import TensorType


class Value:
    """An SSA value: an id unique within its program and a static type."""

    __slots__ = ("id", "type")

    def __init__(self, id: int, type: TensorType) -> None:
        self.id = id
        self.type = type

    def __repr__(self) -> str:
        return f"%{self.id}:{self.type}"


@dataclass(eq=False)
class Op:
    opcode: str
    inputs: list[Value]
    outputs: list[Value]
    attrs: dict[str, Any] = field(default_factory=dict)
    regions: list[Region] = field(default_factory=list)
    loc: str = ""  # where it came from in the user's code (file:line, primitive)


@dataclass(eq=False)
class Region:
    params: list[Value]
    ops: list[Op] = field(default_factory=list)
    results: list[Value] = field(default_factory=list)

    def walk(self) -> Iterator[Op]:
        """All ops, including those in nested regions, in program order."""
        for op in self.ops:
            yield op
            for r in op.regions:
                yield from r.walk()

    def use_counts(self) -> dict[int, int]:
        """How often each value id is used by this region's own ops and results (not nested ones).

        Regions are closed, so these are all the uses of values defined in this region.
        """
        counts: dict[int, int] = {}
        for op in self.ops:
            for v in op.inputs:
                counts[v.id] = counts.get(v.id, 0) + 1
        for v in self.results:
            counts[v.id] = counts.get(v.id, 0) + 1
        return counts

    def replace_uses(self, mapping: dict[int, Value]) -> None:
        """Rewrite uses (op inputs and results of this region) of value ids in `mapping`."""
        if not mapping:
            return
        for op in self.ops:
            op.inputs = [mapping.get(v.id, v) for v in op.inputs]
        self.results = [mapping.get(v.id, v) for v in self.results]


@dataclass(eq=False)
class Program:
    """A compiled program. `input_names`/`output_names` label params/results for the runtime."""

    body: Region
    input_names: list[str] = field(default_factory=list)
    output_names: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    next_id: int = 0  # ids below this are taken

    @property
    def inputs(self) -> list[Value]:
        return self.body.params

    @property
    def outputs(self) -> list[Value]:
        return self.body.results

    def new_value(self, type: TensorType) -> Value:
        v = Value(self.next_id, type)
        self.next_id += 1
        return v

    def walk(self) -> Iterator[Op]:
        """All ops of the program, nested regions included, in program order."""
        return self.body.walk()

    def __str__(self) -> str:
        from veil.ir.printer import format_program  # the printer imports this module

        return format_program(self)


class Builder:
    """Appends ops to a current region; `region()` opens a nested one.

    >>> b = Builder()
    >>> x = b.param(TensorType((3,), DType.FXP))
    >>> (y,) = b.emit("exp", [x], [x.type])
    >>> prog = b.finish([y])
    """

    def __init__(self) -> None:
        self.program = Program(Region(params=[]))
        self._stack: list[Region] = [self.program.body]

    @property
    def current(self) -> Region:
        return self._stack[-1]

    def value(self, type: TensorType) -> Value:
        return self.program.new_value(type)

    def param(self, type: TensorType, name: str | None = None) -> Value:
        """A new input of the current region (program inputs when at top level)."""
        v = self.value(type)
        self.current.params.append(v)
        if len(self._stack) == 1:
            self.program.input_names.append(name or f"arg{len(self.current.params) - 1}")
        return v

    def emit(
        self,
        opcode: str,
        inputs: Sequence[Value],
        out_types: Sequence[TensorType],
        attrs: dict[str, Any] | None = None,
        regions: Sequence[Region] = (),
        loc: str = "",
    ) -> list[Value]:
        outs = [self.value(t) for t in out_types]
        self.current.ops.append(Op(opcode, list(inputs), outs, dict(attrs or {}), list(regions), loc))
        return outs

    def open_region(self, param_types: Sequence[TensorType]) -> Region:
        """Start a nested region with fresh params; emit into it, then `close_region(results)`."""
        region = Region(params=[self.value(t) for t in param_types])
        self._stack.append(region)
        return region

    def close_region(self, results: Sequence[Value]) -> Region:
        region = self._stack.pop()
        region.results = list(results)
        return region

    def finish(self, outputs: Sequence[Value], output_names: Sequence[str] | None = None) -> Program:
        if len(self._stack) != 1:
            raise RuntimeError("Builder.finish with an open nested region")
        self.program.body.results = list(outputs)
        self.program.output_names = list(output_names or [f"out{i}" for i in range(len(outputs))])
        return self.program
