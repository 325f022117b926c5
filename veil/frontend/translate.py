"""Translate a traced jaxpr into a veil IR `Program` (an eval_jaxpr-style loop over equations).

Each equation is dispatched by primitive name to a rule in `veil.frontend.rules.RULES`. Rules
receive a `Lowering` (the builder plus helpers: typed emission, constants, broadcasting, nested
jaxprs and regions) and return the IR values of the equation's outputs.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import jax.extend.core as jex
import numpy as np

from veil.dtypes import DType, Visibility
from veil.errors import CompileError, UnsupportedOpError
from veil.frontend.avals import dtype_of, plain_value
from veil.frontend.rules import RULES, Rule
from veil.frontend.trace import Traced
from veil.ir.program import Builder, Program, Region, Value
from veil.ir.types import TensorType, join_vis

_LIBRARY_PACKAGES = ("jax", "jaxlib", "flax", "optax", "chex", "equinox", "haiku", "numpy")


class Lowering:
    """Translation state: the builder, known plaintext constants and the current source location."""

    def __init__(self, rules: dict[str, Rule]) -> None:
        self.builder = Builder()
        self.rules = rules
        self.known: dict[int, np.ndarray] = {}  # value id -> plaintext of a public constant
        self.loc = ""
        self._cache: list[dict[tuple[Any, ...], Value]] = [{}]
        self._library_dirs = _library_dirs()

    # ---- emission -------------------------------------------------------------------------
    def emit(
        self,
        opcode: str,
        inputs: Sequence[Value],
        out_types: Sequence[TensorType],
        attrs: dict[str, Any] | None = None,
        regions: Sequence[Region] = (),
    ) -> list[Value]:
        """Append an op at the current location."""
        return self.builder.emit(opcode, inputs, out_types, attrs, regions, self.loc)

    def emit1(
        self, opcode: str, inputs: Sequence[Value], shape: Sequence[int], dtype: DType, /, **attrs: Any
    ) -> Value:
        """Append a one-output op whose visibility is the join of its inputs."""
        return self.emit(opcode, inputs, [self.joined(inputs, shape, dtype)], attrs)[0]

    @staticmethod
    def joined(inputs: Sequence[Value], shape: Sequence[int], dtype: DType) -> TensorType:
        """The type of a result computed from `inputs` (public only if all inputs are)."""
        vis, owner = join_vis(*(v.type for v in inputs))
        return TensorType(tuple(int(d) for d in shape), dtype, vis, owner)

    def const(self, value: Any, dtype: DType) -> Value:
        """A public constant; scalars are cached per region."""
        arr = plain_value(value, dtype)
        key = (dtype, arr.shape, arr.tobytes()) if arr.size <= 16 else None
        cache = self._cache[-1]
        if key is not None and key in cache:
            return cache[key]
        t = TensorType(arr.shape, dtype, Visibility.PUBLIC)
        (v,) = self.emit("const", [], [t], {"value": arr})
        self.known[v.id] = arr
        if key is not None:
            cache[key] = v
        return v

    def full(self, value: Any, shape: Sequence[int], dtype: DType) -> Value:
        """A public constant filled with `value`: a scalar const broadcast to `shape`."""
        return self.broadcast_to(self.const(value, dtype), shape)

    def broadcast_to(self, v: Value, shape: Sequence[int]) -> Value:
        """Numpy-style broadcast (right-aligned, size-1 dims expand) made explicit in the IR."""
        shape = tuple(int(d) for d in shape)
        if v.type.shape == shape:
            return v
        r = v.type.ndim
        if r > len(shape):
            raise CompileError(f"cannot broadcast {v.type} to shape {shape} at {self.loc}")
        key = ("broadcast", v.id, shape)
        cache = self._cache[-1]
        if key in cache:
            return cache[key]
        dims = tuple(range(len(shape) - r, len(shape)))
        (out,) = self.emit(
            "broadcast_in_dim",
            [v],
            [v.type.with_shape(shape)],
            {"shape": shape, "broadcast_dimensions": dims},
        )
        if v.id in self.known:
            self.known[out.id] = np.broadcast_to(self.known[v.id], shape)
        cache[key] = out
        return out

    def reshape(self, v: Value, shape: Sequence[int]) -> Value:
        shape = tuple(int(d) for d in shape)
        if v.type.shape == shape:
            return v
        return self.emit("reshape", [v], [v.type.with_shape(shape)], {"new_sizes": shape})[0]

    # ---- regions ----------------------------------------------------------------------------
    def build_region(
        self, param_types: Sequence[TensorType], body: Callable[[list[Value]], list[Value]]
    ) -> Region:
        """Build a closed region: `body(params)` emits its ops and returns its results."""
        region = self.builder.open_region(param_types)
        self._cache.append({})
        try:
            results = body(list(region.params))
        finally:
            self._cache.pop()
        return self.builder.close_region(results)

    # ---- jaxprs ------------------------------------------------------------------------------
    def inline(self, jaxpr: Any, args: Sequence[Value]) -> list[Value]:
        """Translate a (closed or open) jaxpr applied to `args` into the current region."""
        if isinstance(jaxpr, jex.ClosedJaxpr):
            consts = [self.const_array(c) for c in jaxpr.consts]
            return self.lower(jaxpr.jaxpr, consts, args)
        return self.lower(jaxpr, [], args)

    def const_array(self, c: Any) -> Value:
        arr = np.asarray(c)
        return self.const(arr, dtype_of(arr.dtype, self.loc))

    def lower(self, jaxpr: jex.Jaxpr, consts: Sequence[Value], args: Sequence[Value]) -> list[Value]:
        """The eval loop: bind inputs, translate each equation, read the outputs."""
        if len(args) != len(jaxpr.invars):
            raise CompileError(f"jaxpr expects {len(jaxpr.invars)} inputs, got {len(args)} at {self.loc}")
        env: dict[Any, Value] = dict(zip(jaxpr.constvars, consts))
        env.update(zip(jaxpr.invars, args))
        for i, eqn in enumerate(jaxpr.eqns):
            with self.at(eqn, i):
                ins = [self.read(env, a) for a in eqn.invars]
                outs = self.apply(eqn, ins)
            for var, val in zip(eqn.outvars, outs):
                if not isinstance(var, jex.DropVar):
                    env[var] = val
        return [self.read(env, a) for a in jaxpr.outvars]

    def read(self, env: dict[Any, Value], atom: Any) -> Value:
        if isinstance(atom, jex.Literal):
            return self.const(atom.val, dtype_of(atom.aval.dtype, self.loc))
        return env[atom]

    def apply(self, eqn: Any, ins: list[Value]) -> list[Value]:
        """Dispatch one equation to its rule; unknown primitives raise UnsupportedOpError."""
        name = eqn.primitive.name
        rule = self.rules.get(name)
        if rule is None:
            raise UnsupportedOpError(name, self.where(), _hint(name))
        outs = rule(self, eqn, ins)
        if len(outs) != len(eqn.outvars):
            raise CompileError(
                f"rule for '{name}' returned {len(outs)} values for {len(eqn.outvars)} outputs at {self.loc}"
            )
        return outs

    # ---- locations -------------------------------------------------------------------------------
    @contextmanager
    def at(self, eqn: Any, index: int) -> Iterator[None]:
        """Set `self.loc` to '<primitive> at <file>:<line>' of the user's code for this equation."""
        saved = self.loc
        where = self._user_frame(eqn)
        prim = eqn.primitive.name
        if where:
            self.loc = f"{prim} at {where}"
        elif saved:
            self.loc = f"{prim} in {saved}"
        else:
            self.loc = f"{prim} (equation {index})"
        try:
            yield
        finally:
            self.loc = saved

    def where(self) -> str:
        """The user-code location part of the current loc (for error messages)."""
        return self.loc.split(" at ", 1)[1] if " at " in self.loc else self.loc

    def _user_frame(self, eqn: Any) -> str:
        tb = getattr(getattr(eqn, "source_info", None), "traceback", None)
        for frame in getattr(tb, "frames", None) or ():
            path = os.path.abspath(frame.file_name)
            if path.startswith("<") or frame.file_name.startswith("<"):
                continue
            if not any(path.startswith(d) for d in self._library_dirs):
                return f"{frame.file_name}:{frame.line_num}"
        return ""


def _library_dirs() -> tuple[str, ...]:
    """Directories whose frames are library internals, not the user's code."""
    dirs = [os.path.dirname(os.path.abspath(__file__)) + os.sep]
    for key in ("stdlib", "platstdlib"):
        p = sysconfig.get_paths().get(key)
        if p:
            dirs.append(os.path.abspath(p) + os.sep)
    for name in _LIBRARY_PACKAGES:
        mod = sys.modules.get(name)
        for p in getattr(mod, "__path__", None) or ():
            dirs.append(os.path.abspath(p) + os.sep)
    return tuple(dirs)


_HINTS = {
    "sort": "sorting secret data is not supported yet; sort public data outside the function",
    "while": "only while loops with public predicates are supported",
    "cumprod": "rewrite as exp(cumsum(log(x))) for positive x",
    "cumlogsumexp": "rewrite as log(cumsum(exp(x)))",
    "conv_general_dilated": "express the convolution as patches + dot_general (im2col)",
    "random_bits": "draw random numbers outside the function and pass them as inputs",
    "random_seed": "draw random numbers outside the function and pass them as inputs",
    "threefry2x32": "draw random numbers outside the function and pass them as inputs",
}


def _hint(name: str) -> str:
    return _HINTS.get(name, "veil has no rule for this JAX primitive yet: rewrite it with supported ops")


def to_ir(traced: Traced) -> Program:
    """Translate a traced function into an IR program whose inputs are the traced leaves."""
    ctx = Lowering(RULES)
    cj = traced.closed_jaxpr
    params = []
    for aval, vis, name in zip(cj.in_avals, traced.visibility, traced.names):
        t = TensorType(tuple(aval.shape), dtype_of(aval.dtype, name), vis)
        params.append(ctx.builder.param(t, name))
    outs = ctx.inline(cj, params)
    program = ctx.builder.finish(outs, traced.out_names)
    program.meta["frontend"] = "jax"
    return program
