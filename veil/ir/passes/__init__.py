"""IR passes, one per module, each a `run(program, config) -> Program` that may edit in place.

`pipeline.compile_program` runs them in order: dce, visibility, secret_control, visibility,
const_fold, fixed_point, cse, fuse_trunc, dce.
"""

from veil.ir.passes.pipeline import PASSES, compile_program

__all__ = ["PASSES", "compile_program"]
