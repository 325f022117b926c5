"""The single list of IR ops, with arity and the attributes each carries.

Names follow `jax.lax` so translation rules stay thin. Attribute values are plain data (int,
float, bool, str, None, tuples of those, `DType`, numpy arrays for `const`) so that programs
serialize without pickle. `OpSig.n_in = -1` means variadic.

Control-flow ops carry closed regions (no captured values):
- `loop`:  inputs [*carries, *consts]; attrs trip_count:int, n_carries:int;
           region body(params [iv:int scalar public, *carries, *consts]) -> [*carries]
- `while`: inputs [*carries, *consts]; attrs n_carries:int; regions cond, body with params
           [*carries, *consts]; cond -> [pred: bool scalar], body -> [*carries]
- `cond`:  inputs [index (int or bool scalar), *operands]; one region per branch with params
           [*operands]; each branch -> outputs
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class OpKind(Enum):
    UNARY = "unary"  # elementwise, 1 input
    BINARY = "binary"  # elementwise with numpy broadcasting already made explicit (same shapes)
    COMPARE = "compare"  # binary, bool result
    OTHER = "other"


@dataclass(frozen=True)
class OpSig:
    name: str
    kind: OpKind
    n_in: int  # -1: variadic
    attrs: tuple[str, ...] = ()
    n_regions: int = 0  # -1: variadic (cond)
    doc: str = ""


_SIGS: list[OpSig] = [
    # elementwise unary
    *(
        OpSig(n, OpKind.UNARY, 1)
        for n in (
            "neg",
            "abs",
            "sign",
            "exp",
            "log",
            "log1p",
            "expm1",
            "tanh",
            "logistic",
            "sqrt",
            "rsqrt",
            "erf",
            "sin",
            "cos",
            "floor",
            "ceil",
            "round",
            "not",
            "square",
            "is_finite",
            "copy",
        )
    ),
    OpSig("integer_pow", OpKind.UNARY, 1, ("y",)),
    # `nonneg`: the divisor is provably >= 0 (see veil/ir/passes/signs.py)
    OpSig("reciprocal", OpKind.UNARY, 1, ("nonneg",)),
    # elementwise binary; `mul`/`square`/`integer_pow`/`dot_general` get `trunc_bits` from the
    # fixed-point pass (0 = no truncation needed, e.g. int x fxp)
    *(OpSig(n, OpKind.BINARY, 2) for n in ("add", "sub", "max", "min", "pow", "and", "or", "xor", "rem")),
    OpSig("div", OpKind.BINARY, 2, ("nonneg",)),
    OpSig("mul", OpKind.BINARY, 2, ("trunc_bits",)),
    *(OpSig(n, OpKind.COMPARE, 2) for n in ("eq", "ne", "lt", "le", "gt", "ge")),
    # `trunc_bits` (set by veil/ir/passes/defer_trunc.py): truncate the picked case by that many
    # bits (one fused round on semi2k 2PC when the other case is a public zero)
    OpSig("select_n", OpKind.OTHER, -1, ("trunc_bits",), doc="select_n(which, *cases): cases[which]"),
    OpSig("clamp", OpKind.OTHER, 3, doc="clamp(lo, x, hi)"),
    OpSig("convert", OpKind.OTHER, 1, ("dtype",)),
    OpSig("trunc", OpKind.OTHER, 1, ("bits",), doc="arithmetic shift right of the ring value"),
    OpSig("const", OpKind.OTHER, 0, ("value",)),
    OpSig("iota", OpKind.OTHER, 0, ("shape", "dimension")),
    # linear algebra
    OpSig(
        "dot_general",
        OpKind.OTHER,
        2,
        ("contracting", "batch", "trunc_bits"),
        doc="contracting=((lhs dims),(rhs dims)), batch=((lhs),(rhs)); out = batch, lhs free, rhs free",
    ),
    # shapes
    OpSig("broadcast_in_dim", OpKind.OTHER, 1, ("shape", "broadcast_dimensions")),
    OpSig("reshape", OpKind.OTHER, 1, ("new_sizes",)),
    OpSig("transpose", OpKind.OTHER, 1, ("permutation",)),
    OpSig("squeeze", OpKind.OTHER, 1, ("dimensions",)),
    OpSig("concatenate", OpKind.OTHER, -1, ("dimension",)),
    OpSig("slice", OpKind.OTHER, 1, ("start_indices", "limit_indices", "strides")),
    OpSig("dynamic_slice", OpKind.OTHER, -1, ("slice_sizes",), doc="(operand, *starts) public starts"),
    OpSig("dynamic_update_slice", OpKind.OTHER, -1, (), doc="(operand, update, *starts) public starts"),
    OpSig("pad", OpKind.OTHER, 2, ("padding_config",), doc="(operand, pad_value); ((lo, hi, interior), ...)"),
    OpSig("rev", OpKind.OTHER, 1, ("dimensions",)),
    OpSig(
        "gather",
        OpKind.OTHER,
        2,
        ("dimension_numbers", "slice_sizes", "mode", "fill_value"),
        doc="(operand, indices) public indices; jax.lax.gather semantics",
    ),
    OpSig(
        "scatter_add",
        OpKind.OTHER,
        3,
        ("dimension_numbers", "mode"),
        doc="(operand, indices, updates) public indices",
    ),
    OpSig("scatter", OpKind.OTHER, 3, ("dimension_numbers", "mode"), doc="replace semantics"),
    # reductions
    OpSig("reduce_sum", OpKind.OTHER, 1, ("axes",)),
    OpSig("reduce_max", OpKind.OTHER, 1, ("axes",)),
    OpSig("reduce_min", OpKind.OTHER, 1, ("axes",)),
    OpSig("argmax", OpKind.OTHER, 1, ("axis",)),
    OpSig("argmin", OpKind.OTHER, 1, ("axis",)),
    OpSig("cumsum", OpKind.OTHER, 1, ("axis", "reverse")),
    OpSig("cummax", OpKind.OTHER, 1, ("axis", "reverse")),
    # sorting (several outputs)
    OpSig(
        "sort",
        OpKind.OTHER,
        -1,
        ("dimension", "num_keys", "descending"),
        doc="lax.sort: operands permuted together by operands[0]; one output per operand",
    ),
    OpSig(
        "top_k",
        OpKind.OTHER,
        1,
        ("k", "axis"),
        doc="lax.top_k: outputs (the k largest along axis, descending; their int indices)",
    ),
    OpSig(
        "div_bcast",
        OpKind.OTHER,
        2,
        ("shape", "broadcast_dimensions", "nonneg"),
        doc="(x, d): x / broadcast_in_dim(d, shape, broadcast_dimensions), d the smaller operand",
    ),
    # independent elementwise ops of one kind, run as one (see veil/ir/passes/batch.py)
    OpSig(
        "batch",
        OpKind.OTHER,
        -1,
        ("op", "arity", "member_attrs"),
        doc="inputs: each member's operands in turn (arity each); one output per member; "
        "member_attrs: the members' shared attributes as sorted (name, value) pairs",
    ),
    # control flow
    OpSig("loop", OpKind.OTHER, -1, ("trip_count", "n_carries"), 1),
    OpSig("while", OpKind.OTHER, -1, ("n_carries",), 2),
    OpSig("cond", OpKind.OTHER, -1, (), -1),
]

SIGNATURES: dict[str, OpSig] = {s.name: s for s in _SIGS}
UNARY = frozenset(s.name for s in _SIGS if s.kind is OpKind.UNARY)
BINARY = frozenset(s.name for s in _SIGS if s.kind is OpKind.BINARY)
COMPARE = frozenset(s.name for s in _SIGS if s.kind is OpKind.COMPARE)
CONTROL = frozenset({"loop", "while", "cond"})


def signature(name: str) -> OpSig:
    """The signature of IR op `name`; KeyError means the op does not exist in the IR."""
    return SIGNATURES[name]


# Attributes listed in a signature that an op may still lack: `trunc_bits` is set by the
# fixed-point pass, `fill_value` only matters for gather's "fill" mode, `nonneg` is set by the
# sign pass where a divisor is provably >= 0.
OPTIONAL_ATTRS = frozenset({"trunc_bits", "fill_value", "nonneg"})
# Binary ops whose operands may be swapped (used by CSE to canonicalize).
# Ops that never send a message, whatever the visibility of their inputs (linear in shares or
# pure data movement); used by passes that estimate rounds (batch, reassociate).
LOCAL_OPS = frozenset(
    {
        "add", "sub", "neg", "copy", "not", "const", "iota", "reshape", "transpose", "squeeze",
        "broadcast_in_dim", "concatenate", "slice", "pad", "rev", "reduce_sum", "cumsum",
        "dynamic_slice", "dynamic_update_slice", "gather", "scatter", "scatter_add", "is_finite",
    }
)  # fmt: skip
COMMUTATIVE = frozenset({"add", "mul", "max", "min", "and", "or", "xor", "eq", "ne"})
# Minimum number of inputs of variadic ops.
MIN_INPUTS = {
    "select_n": 2, "concatenate": 1, "dynamic_slice": 1, "dynamic_update_slice": 2,
    "loop": 0, "while": 0, "cond": 1, "sort": 1, "batch": 2,
}  # fmt: skip
# Non-control ops with more than one output.
MULTI_OUTPUT = frozenset({"sort", "top_k", "batch"})
# Inputs of these ops that are indices and must be public (see the visibility pass).
INDEX_OPERANDS = {
    "gather": slice(1, 2), "scatter": slice(1, 2), "scatter_add": slice(1, 2),
    "dynamic_slice": slice(1, None), "dynamic_update_slice": slice(2, None),
}  # fmt: skip


def required_attrs(name: str) -> tuple[str, ...]:
    """The attributes op `name` must carry (its signature minus `OPTIONAL_ATTRS`)."""
    return tuple(a for a in SIGNATURES[name].attrs if a not in OPTIONAL_ATTRS)
