"""Visibility inference: recompute who may see every value (PUBLIC < PRIVATE(owner) < SECRET).

Program inputs keep the visibility the frontend gave them; consts and iota are public; every
other op's outputs are the join of its inputs. Loop and while carries are solved to a fixed
point (a carry that turns secret in the body makes the carry, its body params and the op output
secret); cond outputs join all branches and the predicate. Indices of gather/scatter/dynamic
slices must be public, because the VM indexes plaintext positions.
"""

from __future__ import annotations

from collections.abc import Sequence

from veil.config import RuntimeConfig
from veil.errors import CompileError
from veil.ir.ops import INDEX_OPERANDS
from veil.ir.program import Op, Program, Region, Value
from veil.ir.types import DType, TensorType, Visibility, join_vis

__all__ = ["run"]

_Vis = tuple[Visibility, int | None]
_PUBLIC: _Vis = (Visibility.PUBLIC, None)
_PROBE = TensorType((), DType.INT, Visibility.PUBLIC)


def run(program: Program, config: RuntimeConfig | None = None) -> Program:
    """Recompute every value's visibility in place; raise CompileError on a secret index."""
    _region(program.body)
    return program


def _vis(v: Value) -> _Vis:
    return v.type.vis, v.type.owner


def _join(*vs: _Vis) -> _Vis:
    return join_vis(*(_PROBE.with_vis(vis, owner) for vis, owner in vs))


def _set(v: Value, vis: _Vis) -> None:
    if _vis(v) != vis:
        v.type = v.type.with_vis(*vis)


def _region(region: Region) -> None:
    for op in region.ops:
        if op.opcode == "loop":
            _loop(op)
        elif op.opcode == "while":
            _while(op)
        elif op.opcode == "cond":
            _cond(op)
        elif op.opcode in ("const", "iota"):
            for o in op.outputs:
                _set(o, _PUBLIC)
        else:
            vis = _join(*(_vis(v) for v in op.inputs))
            _check_indices(op, vis)
            for o in op.outputs:
                _set(o, vis)


def _check_indices(op: Op, result: _Vis) -> None:
    index_slice = INDEX_OPERANDS.get(op.opcode)
    if index_slice is None:
        return
    for v in op.inputs[index_slice]:
        t = v.type
        if t.vis is Visibility.PUBLIC or (t.vis is Visibility.PRIVATE and result == (t.vis, t.owner)):
            continue
        who = "secret" if t.vis is Visibility.SECRET else f"private to party {t.owner}"
        raise CompileError(
            f"secret index in {op.opcode} (at {op.loc or '<unknown loc>'}): veil needs public indices, "
            f"but index %{v.id} is {who} (fix: use a one-hot matmul / jnp.where instead of indexing "
            "with secret data)"
        )


def _solve_carries(
    carry: list[_Vis], regions: Sequence[Region], first: int, pred: Region | None
) -> list[_Vis]:
    """Raise carry visibilities until the last region (the body) maps them into themselves.

    `first` is the index of the first carry param (1 after a loop's induction variable). Each
    carry can only rise PUBLIC -> PRIVATE -> SECRET, so this ends within 2 * len(carry) + 1 rounds.
    """
    body = regions[-1]
    for _ in range(2 * len(carry) + 2):
        for r in regions:
            for p, c in zip(r.params[first : first + len(carry)], carry, strict=True):
                _set(p, c)
            _region(r)
        # a non-public while predicate leaks into everything the loop produces
        implicit = _vis(pred.results[0]) if pred is not None else _PUBLIC
        new = [_join(c, _vis(res), implicit) for c, res in zip(carry, body.results, strict=True)]
        if new == carry:
            return carry
        carry = new
    raise CompileError("visibility inference did not converge (internal error: please report)")


def _loop(op: Op) -> None:
    n = op.attrs["n_carries"]
    body = op.regions[0]
    _set(body.params[0], _PUBLIC)
    for p, v in zip(body.params[1 + n :], op.inputs[n:], strict=True):
        _set(p, _vis(v))
    carry = _solve_carries([_vis(v) for v in op.inputs[:n]], [body], 1, None)
    for o, c in zip(op.outputs, carry, strict=True):
        _set(o, c)


def _while(op: Op) -> None:
    n = op.attrs["n_carries"]
    cond, body = op.regions
    for r in (cond, body):
        for p, v in zip(r.params[n:], op.inputs[n:], strict=True):
            _set(p, _vis(v))
    carry = _solve_carries([_vis(v) for v in op.inputs[:n]], [cond, body], 0, cond)
    for o, c in zip(op.outputs, carry, strict=True):
        _set(o, c)


def _cond(op: Op) -> None:
    index, operands = op.inputs[0], op.inputs[1:]
    for branch in op.regions:
        for p, v in zip(branch.params, operands, strict=True):
            _set(p, _vis(v))
        _region(branch)
    for i, o in enumerate(op.outputs):
        _set(o, _join(_vis(index), *(_vis(b.results[i]) for b in op.regions)))
