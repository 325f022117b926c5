"""Private inputs and the compiled-program cache key, shared by `veil.jit` and the SPU.

A PRIVATE input (owner = a compute party's rank) stays in plaintext at its owner: ops that only
combine it with public values or with the same owner's private values run locally at the owner
(no messages); the HAL secret-shares it (`v2s`) only when an op mixes it with another party's
data. The frontend types every non-public leaf SECRET; `mark_private` retypes the chosen program
inputs before the compiler passes run, and the visibility pass propagates the rest.

    f = veil.jit(fn)
    f(private(x1, 0), x2)          # x1 is party 0's own data; x2 is secret-shared

`signature` is the cache key of a call: the function, its static arguments and the shape, dtype
and visibility of every dynamic leaf -- everything that determines the compiled program -- so
repeated calls skip tracing. Like `jax.jit`, it assumes the function (and what it closes over)
does not change between calls.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import numpy as np

from veil.config import RuntimeConfig
from veil.dtypes import Visibility
from veil.errors import VeilError
from veil.frontend import Public, to_ir, trace
from veil.ir.passes.pipeline import compile_program
from veil.ir.program import Program

Mark = tuple[Visibility, int] | None  # (PRIVATE, owner rank) or None (as the frontend types it)


class Private:
    """Marks an array (or pytree) as the private data of compute party `owner` (its rank)."""

    __slots__ = ("owner", "value")

    def __init__(self, value: Any, owner: int) -> None:
        if not isinstance(owner, int) or isinstance(owner, bool) or owner < 0:
            raise VeilError(f"private(x, owner): owner must be a party rank (int >= 0), got {owner!r}")
        self.value = value
        self.owner = owner

    def __repr__(self) -> str:
        return f"Private(owner={self.owner})"


def private(x: Any, owner: int) -> Private:
    """Mark `x` as compute party `owner`'s own data: kept in plaintext there until an op needs it shared."""
    return Private(x, owner)


def _is_marker(x: Any) -> bool:
    return isinstance(x, (Public, Private))


def split_private(tree: Any) -> tuple[Any, list[Mark]]:
    """(tree with Private markers removed, one mark per leaf in the frontend's flattening order)."""

    def marks_of(x: Any) -> Any:
        if isinstance(x, Private):
            return jax.tree_util.tree_map(lambda _: (Visibility.PRIVATE, x.owner), x.value)
        if isinstance(x, Public):
            return jax.tree_util.tree_map(lambda _: None, x.value)
        return None

    marks = jax.tree_util.tree_leaves(
        jax.tree_util.tree_map(marks_of, tree, is_leaf=_is_marker), is_leaf=lambda m: m is None or _is_mark(m)
    )
    clean = jax.tree_util.tree_map(
        lambda x: x.value if isinstance(x, Private) else x, tree, is_leaf=_is_marker
    )
    return clean, marks


def _is_mark(m: Any) -> bool:
    return isinstance(m, tuple) and len(m) == 2 and isinstance(m[0], Visibility)


def mark_private(program: Program, marks: Sequence[Mark], world: int) -> Program:
    """Retype the program inputs marked PRIVATE (before compile_program; in place)."""
    if len(marks) != len(program.inputs):
        raise VeilError(f"{len(marks)} input marks for {len(program.inputs)} program inputs (internal error)")
    for i, (mark, value) in enumerate(zip(marks, program.inputs)):
        if mark is None:
            continue
        owner = mark[1]
        if not 0 <= owner < world:
            raise VeilError(f"private input {i}: owner {owner} is not a compute party rank (0..{world - 1})")
        if value.type.vis is Visibility.PUBLIC:
            raise VeilError(f"input {i} is marked both public and private")
        value.type = value.type.with_vis(Visibility.PRIVATE, owner)
    return program


def _leaf_sig(x: Any, mark: Any) -> tuple[Any, ...]:
    if isinstance(x, (bool, int, float)) and not isinstance(x, np.generic):
        return ("py", type(x).__name__, mark)
    shape = getattr(x, "shape", None)
    dtype = getattr(x, "dtype", None)
    if shape is None or dtype is None:
        arr = np.asarray(x)
        shape, dtype = arr.shape, arr.dtype
    return (tuple(shape), str(np.dtype(dtype)), mark)


def signature(
    fn: Callable[..., Any],
    args: Sequence[Any],
    kwargs: dict[str, Any],
    nums: Sequence[int],
    names: Sequence[str],
    marks: Sequence[Mark] | None = None,
) -> Any:
    """The cache key of one call (None if a static argument is unhashable: no caching then).

    `args`/`kwargs` may hold Public markers; Private markers must already be split off and given
    as `marks` (one per dynamic leaf).
    """
    n = len(args)
    static_pos = {i + n if i < 0 else i for i in nums}
    static = (  # with types: 1, 1.0 and True are equal keys but may trace differently
        tuple((i, type(args[i]), args[i]) for i in sorted(static_pos) if 0 <= i < n),
        tuple(sorted((k, type(v).__name__, v) for k, v in kwargs.items() if k in names)),
    )
    try:
        hash(static)
    except TypeError:
        return None
    dyn = (
        tuple(a for i, a in enumerate(args) if i not in static_pos),
        {k: v for k, v in kwargs.items() if k not in names},
    )
    pub = jax.tree_util.tree_map(
        lambda x: jax.tree_util.tree_map(lambda _: "public", x.value) if isinstance(x, Public) else None,
        dyn,
        is_leaf=_is_marker,
    )
    pub_flat = jax.tree_util.tree_leaves(pub, is_leaf=lambda m: m is None)
    clean = jax.tree_util.tree_map(lambda x: x.value if isinstance(x, Public) else x, dyn, is_leaf=_is_marker)
    leaves, tree = jax.tree_util.tree_flatten(clean)
    if len(pub_flat) != len(leaves):
        return None
    marks = list(marks) if marks is not None else [None] * len(leaves)
    if len(marks) != len(leaves):
        return None
    sigs = tuple(_leaf_sig(x, p or m) for x, p, m in zip(leaves, pub_flat, marks))
    return (fn, n, static, tree, sigs)


def split_call(
    args: Sequence[Any], kwargs: dict[str, Any], nums: Sequence[int], names: Sequence[str]
) -> tuple[list[Any], dict[str, Any], list[Mark]]:
    """Remove Private markers from the dynamic arguments; marks in the frontend's leaf order."""
    n = len(args)
    static_pos = {i + n if i < 0 else i for i in nums}
    dyn_pos = [i for i in range(n) if i not in static_pos]
    dyn = (tuple(args[i] for i in dyn_pos), {k: v for k, v in kwargs.items() if k not in names})
    (clean_args, clean_kw), marks = split_private(dyn)
    new_args = list(args)
    for i, value in zip(dyn_pos, clean_args):
        new_args[i] = value
    return new_args, {**kwargs, **clean_kw}, marks


@dataclass
class Compiled:
    """A compiled call: the program and what is needed to feed it and unflatten its outputs."""

    program: Program
    names: list[str]
    out_tree: Any
    out_avals: list[Any]
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. the SPU's serialized blob and hash


def dyn_leaves(
    args: Sequence[Any], kwargs: dict[str, Any], nums: Sequence[int], names: Sequence[str]
) -> list[Any]:
    """The dynamic leaves of a call (Public unwrapped), in the frontend's order."""
    n = len(args)
    static_pos = {i + n if i < 0 else i for i in nums}
    dyn = (
        tuple(a for i, a in enumerate(args) if i not in static_pos),
        {k: v for k, v in kwargs.items() if k not in names},
    )
    clean = jax.tree_util.tree_map(lambda x: x.value if isinstance(x, Public) else x, dyn, is_leaf=_is_marker)
    return jax.tree_util.tree_leaves(clean)


class ProgramCache:
    """Compiled programs by call signature: a hit skips tracing and compiling."""

    def __init__(self, config: RuntimeConfig) -> None:
        self.config = config
        self.entries: dict[Any, Compiled] = {}
        self.hits = 0
        self.misses = 0

    def get(
        self,
        fn: Callable[..., Any],
        args: Sequence[Any],
        kwargs: dict[str, Any],
        nums: Sequence[int],
        names: Sequence[str],
        marks: Sequence[Mark],
    ) -> tuple[Compiled, list[Any] | None]:
        """(compiled program, traced leaves or None on a cache hit: use `dyn_leaves` then)."""
        key = signature(fn, args, kwargs, nums, names, marks)
        hit = self.entries.get(key) if key is not None else None
        if hit is not None:
            self.hits += 1
            return hit, None
        self.misses += 1
        traced = trace(fn, args, kwargs, nums, names)
        program = mark_private(to_ir(traced), marks, self.config.world_size)
        compiled = Compiled(
            compile_program(program, self.config), traced.names, traced.out_tree, traced.out_avals
        )
        if key is not None:
            self.entries[key] = compiled
        return compiled, traced.leaves
