"""Per-op shape/dtype rules of the IR: one checker per op (or op kind), each returns a problem or None.

`check_shapes(op)` is what `veil.ir.verify` runs on every non-control op: it compares the
output types with what the inputs and attributes imply. The rules live apart from the
structural (SSA, regions, visibility) checks in verify.py so each module keeps one job.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from veil.ir.ops import SIGNATURES
from veil.ir.program import Op
from veil.ir.types import DType, TensorType

__all__ = ["check_shapes", "is_int", "same_type"]


def is_int(x: object, lo: int | None = None) -> bool:
    """True for a Python/numpy int (not a bool), at least `lo` when given."""
    ok = isinstance(x, int | np.integer) and not isinstance(x, bool | np.bool_)
    return ok and (lo is None or int(x) >= lo)  # type: ignore[call-overload]


def same_type(a: TensorType, b: TensorType) -> bool:
    """Same shape and dtype (visibility is not compared)."""
    return a.shape == b.shape and a.dtype == b.dtype


def check_shapes(op: Op) -> str | None:
    """Check the output shape/dtype of a non-control op against its inputs and attributes."""
    multi = _MULTI_RULES.get(op.opcode)
    if multi is not None:
        try:
            return multi([v.type for v in op.inputs], [o.type for o in op.outputs], op.attrs)
        except (TypeError, ValueError, IndexError, KeyError) as e:
            return f"malformed attributes {op.attrs!r} ({e})"
    rule = _RULES.get(op.opcode)
    if rule is None:
        rule = _KIND_RULES.get(SIGNATURES[op.opcode].kind.value)
    if rule is None:
        return None
    try:
        return rule([v.type for v in op.inputs], op.outputs[0].type, op.attrs)
    except (TypeError, ValueError, IndexError, KeyError) as e:
        return f"malformed attributes {op.attrs!r} ({e})"


_Attrs = dict[str, Any]


def _want(out: TensorType, shape: tuple[int, ...] | list[int]) -> str | None:
    shape = tuple(int(d) for d in shape)
    return None if out.shape == shape else f"output shape {out.shape}, expected {shape}"


def _unary(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    return _want(out, ins[0].shape)


def _binary(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    if ins[0].shape != ins[1].shape:
        return f"operand shapes differ: {ins[0].shape} vs {ins[1].shape} (broadcast explicitly first)"
    return _want(out, ins[0].shape)


def _compare(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    if out.dtype is not DType.BOOL:
        return f"a comparison yields bool, not {out.dtype.value}"
    return _binary(ins, out, attrs)


def _is_finite(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    return _compare([ins[0], ins[0]], out, attrs)


def _select_n(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    which, cases = ins[0], ins[1:]
    if which.dtype is DType.FXP or which.shape not in ((), out.shape):
        return f"selector is {which}: want a bool/int scalar or an array of the output shape"
    if which.dtype is DType.BOOL and len(cases) != 2:
        return f"a bool selector needs 2 cases, got {len(cases)}"
    bad = [c for c in cases if c.shape != out.shape]
    return f"case shapes {[c.shape for c in cases]} differ from output {out.shape}" if bad else None


def _clamp(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    lo, x, hi = ins
    if lo.shape not in ((), x.shape) or hi.shape not in ((), x.shape):
        return f"clamp bounds {lo.shape}/{hi.shape} must be scalars or shaped like x {x.shape}"
    return _want(out, x.shape)


def _convert(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    if not isinstance(attrs["dtype"], DType) or attrs["dtype"] is not out.dtype:
        return f"dtype={attrs['dtype']!r} must be the DType of the output ({out.dtype.value})"
    return _want(out, ins[0].shape)


def _trunc(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    if not is_int(attrs["bits"], lo=0):
        return f"bits={attrs['bits']!r}: want an int >= 0"
    return _want(out, ins[0].shape)


def _const(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    value = attrs["value"]
    if not isinstance(value, np.ndarray | np.generic) or value.dtype.kind not in "biuf":
        return f"value must be a numpy bool/int/float array, got {type(value).__name__}"
    return _want(out, value.shape)


def _iota(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    shape = tuple(attrs["shape"])
    if not 0 <= attrs["dimension"] < max(len(shape), 1):
        return f"dimension={attrs['dimension']} out of range for shape {shape}"
    return _want(out, shape)


def _dot_general(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    lhs, rhs = ins[0].shape, ins[1].shape
    (lc, rc), (lb, rb) = attrs["contracting"], attrs["batch"]
    if len(lc) != len(rc) or len(lb) != len(rb):
        return "contracting/batch dims of lhs and rhs differ in number"
    for a, b in (*zip(lc, rc, strict=True), *zip(lb, rb, strict=True)):
        if lhs[a] != rhs[b]:
            return f"lhs dim {a} ({lhs[a]}) != rhs dim {b} ({rhs[b]})"
    lfree = [lhs[d] for d in range(len(lhs)) if d not in (*lc, *lb)]
    rfree = [rhs[d] for d in range(len(rhs)) if d not in (*rc, *rb)]
    return _want(out, [lhs[d] for d in lb] + lfree + rfree)


def _broadcast(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    shape, dims = tuple(attrs["shape"]), tuple(attrs["broadcast_dimensions"])
    src = ins[0].shape
    if len(dims) != len(src) or any(s not in (1, shape[d]) for s, d in zip(src, dims, strict=True)):
        return f"cannot broadcast {src} to {shape} along {dims}"
    return _want(out, shape)


def _reshape(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    new = tuple(attrs["new_sizes"])
    if int(np.prod(new)) != ins[0].size:
        return f"cannot reshape {ins[0].shape} to {new}"
    return _want(out, new)


def _transpose(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    perm = tuple(attrs["permutation"])
    if sorted(perm) != list(range(ins[0].ndim)):
        return f"permutation {perm} is not a permutation of {ins[0].ndim} dims"
    return _want(out, [ins[0].shape[p] for p in perm])


def _drop_axes(shape: tuple[int, ...], axes: tuple[int, ...]) -> str | list[int]:
    if any(not 0 <= a < len(shape) for a in axes) or len(set(axes)) != len(axes):
        return f"axes {axes} invalid for shape {shape}"
    return [d for i, d in enumerate(shape) if i not in axes]


def _reduce(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    kept = _drop_axes(ins[0].shape, tuple(attrs["axes"]))
    return kept if isinstance(kept, str) else _want(out, kept)


def _argmax(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    if out.dtype is not DType.INT:
        return f"an index result is int, not {out.dtype.value}"
    kept = _drop_axes(ins[0].shape, (attrs["axis"],))
    return kept if isinstance(kept, str) else _want(out, kept)


def _squeeze(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    dims = tuple(attrs["dimensions"])
    kept = _drop_axes(ins[0].shape, dims)
    if isinstance(kept, str) or any(ins[0].shape[d] != 1 for d in dims):
        return f"cannot squeeze dims {dims} of {ins[0].shape}"
    return _want(out, kept)


def _concatenate(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    d = attrs["dimension"]
    first = ins[0].shape
    for t in ins:
        if len(t.shape) != len(first) or any(
            a != b for i, (a, b) in enumerate(zip(t.shape, first)) if i != d
        ):
            return f"cannot concatenate shapes {[t.shape for t in ins]} along {d}"
    return _want(out, first[:d] + (sum(t.shape[d] for t in ins),) + first[d + 1 :])


def _slice(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    start, limit = attrs["start_indices"], attrs["limit_indices"]
    strides = attrs["strides"] or (1,) * len(start)
    src = ins[0].shape
    if not len(start) == len(limit) == len(strides) == len(src):
        return f"slice of rank {len(src)} needs {len(src)} starts/limits/strides"
    if any(not 0 <= a <= b <= n for a, b, n in zip(start, limit, src, strict=True)):
        return f"slice [{start}, {limit}) out of bounds for {src}"
    return _want(out, [-(-(b - a) // s) for a, b, s in zip(start, limit, strides, strict=True)])


def _pad(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    cfg = attrs["padding_config"]
    if ins[1].shape != () or len(cfg) != ins[0].ndim:
        return "pad needs a scalar pad value and one (lo, hi, interior) per dim"
    shape = [lo + hi + n + max(n - 1, 0) * it for n, (lo, hi, it) in zip(ins[0].shape, cfg, strict=True)]
    return _want(out, shape)


def _dynamic_slice(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    starts = ins[1:]
    if len(starts) != ins[0].ndim or any(s.shape != () or s.dtype is DType.FXP for s in starts):
        return f"needs {ins[0].ndim} int scalar start indices"
    return _want(out, attrs["slice_sizes"])


def _dynamic_update_slice(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    starts = ins[2:]
    if len(starts) != ins[0].ndim or any(s.shape != () or s.dtype is DType.FXP for s in starts):
        return f"needs {ins[0].ndim} int scalar start indices"
    if ins[1].ndim != ins[0].ndim:
        return f"update rank {ins[1].ndim} != operand rank {ins[0].ndim}"
    return _want(out, ins[0].shape)


def _scatter(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    return _want(out, ins[0].shape)


def _sort(ins: list[TensorType], outs: list[TensorType], attrs: _Attrs) -> str | None:
    """lax.sort: operands of one shape, one output per operand with its shape and dtype."""
    shape = ins[0].shape
    if any(t.shape != shape for t in ins):
        return f"sort operands differ in shape: {[t.shape for t in ins]}"
    if not is_int(attrs["dimension"], lo=0) or attrs["dimension"] >= max(len(shape), 1):
        return f"dimension={attrs['dimension']!r} out of range for shape {shape}"
    if attrs["num_keys"] != 1:
        return f"num_keys={attrs['num_keys']!r}: veil sorts by one key"
    if len(outs) != len(ins) or any(not same_type(o, i) for o, i in zip(outs, ins, strict=True)):
        return "sort outputs must match its operands (shape and dtype), one per operand"
    return None


def _top_k(ins: list[TensorType], outs: list[TensorType], attrs: _Attrs) -> str | None:
    """lax.top_k: (values of x's dtype, int indices), axis `axis` cut to k."""
    x, k, axis = ins[0], attrs["k"], attrs["axis"]
    if not is_int(axis, lo=0) or axis >= x.ndim or not is_int(k, lo=0) or k > x.shape[axis]:
        return f"k={k!r}, axis={axis!r} invalid for shape {x.shape}"
    shape = x.shape[:axis] + (k,) + x.shape[axis + 1 :]
    want = [TensorType(shape, x.dtype), TensorType(shape, DType.INT)]
    if len(outs) != 2 or any(not same_type(o, w) for o, w in zip(outs, want, strict=True)):
        return f"top_k outputs must be ({shape} {x.dtype.value}, {shape} int)"
    return None


def _div_bcast(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    """x / broadcast_in_dim(d): x has the output shape, d broadcasts to it."""
    problem = _broadcast([ins[1]], out, attrs)
    if problem is None and ins[0].shape != out.shape:
        problem = f"dividend shape {ins[0].shape} differs from the output {out.shape}"
    return problem


def _batch(ins: list[TensorType], outs: list[TensorType], attrs: _Attrs) -> str | None:
    """Each member's operands and output must pass the member op's own rule (with its own
    attributes from `each_attrs` where given: dot_general)."""
    op, arity = attrs["op"], attrs["arity"]
    sig = SIGNATURES.get(op)
    if sig is None or sig.kind.value not in _KIND_RULES and op not in ("trunc", "dot_general", "select_n"):
        return f"op={op!r} is not a batchable elementwise op, select_n or dot_general"
    if not is_int(arity, lo=1) or (sig.n_in >= 0 and arity != sig.n_in) or len(ins) != arity * len(outs):
        return f"arity={arity!r} does not split {len(ins)} inputs over {len(outs)} members"
    rule = _RULES.get(op) or _KIND_RULES[sig.kind.value]
    each = attrs.get("each_attrs")  # dot_general: the members' own attributes
    if op == "dot_general" and (not isinstance(each, tuple) or len(each) != len(outs)):
        return f"each_attrs must give one attribute tuple per member ({len(outs)})"
    for i, out in enumerate(outs):
        member_attrs = dict(each[i] if each is not None else attrs["member_attrs"])
        problem = rule(ins[i * arity : (i + 1) * arity], out, member_attrs)
        if problem:
            return f"member {i} ({op}): {problem}"
    return None


_KIND_RULES = {"unary": _unary, "binary": _binary, "compare": _compare}
_RULES = {
    "is_finite": _is_finite, "select_n": _select_n, "clamp": _clamp, "convert": _convert,
    "trunc": _trunc, "const": _const, "iota": _iota, "dot_general": _dot_general,
    "broadcast_in_dim": _broadcast, "reshape": _reshape, "transpose": _transpose,
    "reduce_sum": _reduce, "reduce_max": _reduce, "reduce_min": _reduce, "argmax": _argmax,
    "argmin": _argmax, "cumsum": _unary, "cummax": _unary, "rev": _unary, "squeeze": _squeeze,
    "concatenate": _concatenate, "slice": _slice, "pad": _pad, "dynamic_slice": _dynamic_slice,
    "dynamic_update_slice": _dynamic_update_slice, "scatter": _scatter, "scatter_add": _scatter,
    "div_bcast": _div_bcast,
}  # fmt: skip
_MULTI_RULES = {"sort": _sort, "top_k": _top_k, "batch": _batch}
