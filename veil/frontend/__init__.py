"""The JAX frontend: trace a function into a jaxpr, then translate it into veil IR.

Usage: `program = to_ir(trace(fn, (params, public(x)), {}))`; inputs are secret unless wrapped
in `public(...)`, Python scalars are public, and static arguments are closed over.
"""

from veil.frontend.trace import Public, Traced, public, trace
from veil.frontend.translate import to_ir

__all__ = ["Public", "Traced", "public", "to_ir", "trace"]
