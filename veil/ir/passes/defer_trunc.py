"""Deferred truncation: compare and select a product before truncating it, truncate once after.

A relu after a layer, `z = trunc(x @ w) + b; select_n(z > 0, 0, z)`, costs a truncation round,
then the comparison, then the selection's product round. Two facts make the truncation free:
- the sign of z is the sign of the untruncated `x @ w + (b << f)` (HAL aligns the scales), so the
  comparison can read the raw value directly;
- for a 0/1 selector s, s * trunc(v) = trunc(s * v), so the select can truncate its result
  (`select_n {trunc_bits}`); with a public zero as the other case, semi2k 2PC fuses the product
  and the truncation into one round (`veil.mpc.api.bit_trunc_s`), elsewhere it runs select then
  trunc (the rounds of before).
The backward pass of relu, `select_n(mask, 0, trunc(d @ w^T))`, is the same pattern without `b`.

The rewrite applies where a truncated value v (a `trunc`, or a product with `trunc_bits` > 0),
or `v + c` / `v - c` / `c - v` with v used only there, is used ONLY by comparisons against a
public zero and by 2-case `select_n`s whose other case is a public zero. Comparing the raw value
needs the headroom of one untruncated product (|v| < 2^(k-1-2f)), as truncation fusion does.
Counts go to `meta["truncs_deferred"]`.
"""

from __future__ import annotations

import numpy as np

from veil.config import RuntimeConfig
from veil.ir.program import Op, Program, Region, Value
from veil.ir.types import DType, Visibility

__all__ = ["run"]

_PRODUCTS = frozenset({"mul", "dot_general", "square"})
_ZERO_COMPARES = frozenset({"gt", "ge", "lt", "le"})  # sign tests; eq/ne would change meaning
_LINEAR = frozenset({"add", "sub"})


def run(program: Program, config: RuntimeConfig) -> Program:
    """Defer truncations in place, in every region."""
    program.meta["truncs_deferred"] = program.meta.get("truncs_deferred", 0) + _region(program.body)
    return program


def _region(region: Region) -> int:
    count = sum(_region(r) for op in region.ops for r in op.regions)
    producer = {v.id: op for op in region.ops for v in op.outputs}
    users: dict[int, list[Op]] = {}
    for op in region.ops:
        for v in op.inputs:
            users.setdefault(v.id, []).append(op)
    uses = region.use_counts()
    dropped: set[int] = set()  # ids of `trunc` ops made dead (their input is used directly)
    for op in region.ops:
        if len(op.outputs) != 1 or id(op) in dropped:
            continue
        z = op.outputs[0]
        if z.type.dtype is not DType.FXP or z.type.vis is not Visibility.SECRET:
            continue
        source = _truncated_source(op, producer, uses)
        if source is None or not _only_zero_uses(z, users.get(z.id, []), uses, producer):
            continue
        src_op, bits = source
        if src_op.opcode == "trunc":
            raw = src_op.inputs[0]
            if src_op is op:
                region.replace_uses({z.id: raw})
            else:
                op.inputs = [raw if v.id == src_op.outputs[0].id else v for v in op.inputs]
            dropped.add(id(src_op))
        else:
            src_op.attrs["trunc_bits"] = 0
        for user in users.get(z.id, []):
            if user.opcode == "select_n":
                user.attrs["trunc_bits"] = bits
        count += 1
    region.ops = [op for op in region.ops if id(op) not in dropped]
    return count


def _truncated_source(op: Op, producer: dict[int, Op], uses: dict[int, int]) -> tuple[Op, int] | None:
    """(op that truncates, bits) when z = trunc(v), a truncating product, or v +- c of one."""
    own = _truncating(op)
    if own:
        return op, own
    if op.opcode not in _LINEAR:
        return None
    for v in op.inputs:
        src = producer.get(v.id)
        bits = _truncating(src) if src is not None else 0
        if bits and uses.get(v.id, 0) == 1 and op.inputs.count(v) == 1:
            return src, bits
    return None


def _truncating(op: Op) -> int:
    """Bits this op truncates its secret fxp result by (0: it does not)."""
    if op.opcode == "trunc":
        return int(op.attrs["bits"])
    if op.opcode in _PRODUCTS:
        return int(op.attrs.get("trunc_bits") or 0)
    return 0


def _only_zero_uses(z: Value, users: list[Op], uses: dict[int, int], producer: dict[int, Op]) -> bool:
    """z's every use is a sign test against public zero or a 2-case select with a zero case."""
    if not users or uses.get(z.id, 0) != sum(u.inputs.count(z) for u in users):
        return False  # also used as a region result
    for user in users:
        others = [v for v in user.inputs if v.id != z.id]
        if user.opcode in _ZERO_COMPARES:
            ok = len(others) == 1 and _is_zero(others[0], producer)
        elif user.opcode == "select_n":
            ok = (
                len(user.inputs) == 3
                and user.inputs[0].type.dtype is DType.BOOL
                and user.inputs[0].id != z.id
                and user.inputs[1:].count(z) == 1
                and _is_zero(others[1], producer)
                and not user.attrs.get("trunc_bits")
            )
        else:
            ok = False
        if not ok:
            return False
    return True


def _is_zero(v: Value, producer: dict[int, Op]) -> bool:
    """A public constant that is zero everywhere (a `const`, possibly broadcast or reshaped)."""
    op = producer.get(v.id)
    while op is not None and op.opcode in ("broadcast_in_dim", "reshape"):
        op = producer.get(op.inputs[0].id)
    if op is None or op.opcode != "const" or op.outputs[0].type.vis is not Visibility.PUBLIC:
        return False
    return bool(np.all(np.asarray(op.attrs["value"]) == 0))
