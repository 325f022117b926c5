"""The compiler pipeline: the ordered list of IR passes and `compile_program`.

Order matters: dead code goes first (so unreachable code cannot raise errors), visibility must
be known before secret control flow is rewritten (and is recomputed after), constants are folded
before fixed-point typing looks for integer constant factors, and truncation fusion needs the
`trunc_bits` that fixed-point typing sets; deferred truncation then moves the truncations
that feed only sign tests and zero-selects past them. A final DCE drops what the other passes orphaned, and
round batching runs last: it only regroups ops that are final.
"""

from __future__ import annotations

from collections.abc import Callable

from veil.config import RuntimeConfig
from veil.errors import CompileError
from veil.ir.passes import (
    algebraic,
    batch,
    const_fold,
    cse,
    dce,
    defer_trunc,
    fixed_point,
    fuse_trunc,
    reassociate,
    secret_control,
    signs,
    visibility,
)
from veil.ir.program import Program
from veil.ir.verify import verify

__all__ = ["PASSES", "Pass", "compile_program"]

Pass = Callable[[Program, RuntimeConfig], Program]

PASSES: tuple[tuple[str, Pass], ...] = (
    ("dce", dce.run),
    ("visibility", visibility.run),
    ("secret_control", secret_control.run),
    ("visibility", visibility.run),
    ("const_fold", const_fold.run),
    ("algebraic", algebraic.run),
    ("reassociate", reassociate.run),
    ("signs", signs.run),
    ("fixed_point", fixed_point.run),
    ("cse", cse.run),
    ("fuse_trunc", fuse_trunc.run),
    ("defer_trunc", defer_trunc.run),
    ("dce", dce.run),
    ("batch", batch.run),
)


def compile_program(
    program: Program,
    config: RuntimeConfig,
    *,
    debug: bool = False,
    passes: tuple[tuple[str, Pass], ...] = PASSES,
) -> Program:
    """Run the passes over `program` (in place) and return it, verified.

    The input and the result are always verified; with `debug=True` every pass is followed by
    `verify`, so a broken pass is named. Compiling an already compiled program is a no-op if
    the fixed-point format matches, and an error otherwise.
    """
    if program.meta.get("compiled"):
        if program.meta.get("fxp_bits") == config.f:
            return program
        raise CompileError(
            f"program was compiled for fxp_bits={program.meta.get('fxp_bits')}, not {config.f}: "
            "compile the frontend's program again with this config"
        )
    verify(program)
    flow = False  # the visibility invariants hold once secret control flow is gone
    for name, run in passes:
        program = run(program, config)
        flow = flow or name == "secret_control"
        if debug:
            try:
                verify(program, check_flow=flow)
            except CompileError as e:
                raise CompileError(f"after IR pass '{name}': {e}") from e
    verify(program, check_flow=flow)
    program.meta["compiled"] = True
    return program
