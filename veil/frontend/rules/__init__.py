"""The rule registry: JAX primitive name -> function translating one equation to IR ops.

A rule has the signature `rule(ctx, eqn, inputs) -> outputs` where `ctx` is the
`veil.frontend.translate.Lowering`, `eqn` the jaxpr equation (read its `params` and the avals
of its `outvars`) and `inputs` the IR values of its operands (literals already materialized).
"""

from __future__ import annotations

from veil.frontend.rules import control, elementwise, indexing, linalg, reduce, shape, sort
from veil.frontend.rules.common import Rule

RULES: dict[str, Rule] = {
    **elementwise.RULES,
    **linalg.RULES,
    **reduce.RULES,
    **shape.RULES,
    **indexing.RULES,
    **control.RULES,
    **sort.RULES,
}

__all__ = ["RULES", "Rule"]
