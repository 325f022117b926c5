"""veil IR: typed SSA programs (shape, fxp/int/bool dtype, public/private/secret visibility).

`types` and `program` hold the data structures re-exported here; `ops` lists the IR ops and
their attributes; `verify` checks structure and types; `printer` dumps text; `serialize` is the
versioned msgpack wire format; `passes` holds the compiler pipeline (`compile_program`).
This package imports nothing of veil except the leaf modules `errors`, `config` and `dtypes`.
"""

from veil.ir.program import Builder, Op, Program, Region, Value
from veil.ir.types import DType, TensorType, Visibility, join_vis, vis_leq

__all__ = [
    "Builder",
    "DType",
    "Op",
    "Program",
    "Region",
    "TensorType",
    "Value",
    "Visibility",
    "join_vis",
    "vis_leq",
]
