"""Trace a JAX function into a ClosedJaxpr plus everything needed to feed and unflatten it.

Inputs are pytrees. Each leaf is an input of the program: numpy/JAX arrays are SECRET unless
wrapped in `public(...)`; Python scalars (bool, int, float) are PUBLIC. Static arguments are
closed over, so they become part of the traced program and not inputs.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.extend.core as jex
import numpy as np

from veil.dtypes import Visibility
from veil.errors import CompileError


class Public:
    """Marks a pytree leaf or a whole subtree as public (known to every compute party)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"Public({self.value!r})"


def public(x: Any) -> Public:
    """Mark `x` (an array or any pytree of arrays) public: it is not secret-shared."""
    return x if isinstance(x, Public) else Public(x)


@dataclass
class Traced:
    """A traced function: its jaxpr, flat inputs (with visibility and names) and output tree."""

    closed_jaxpr: jex.ClosedJaxpr
    leaves: list[np.ndarray]
    visibility: list[Visibility]
    names: list[str]
    in_tree: Any  # treedef of (args, kwargs) without static args
    out_tree: Any
    out_names: list[str]

    @property
    def in_avals(self) -> list[Any]:
        return list(self.closed_jaxpr.in_avals)

    @property
    def out_avals(self) -> list[Any]:
        return list(self.closed_jaxpr.out_avals)


def _is_public(x: Any) -> bool:
    return isinstance(x, Public)


def _is_python_scalar(x: Any) -> bool:
    return isinstance(x, (bool, int, float)) and not isinstance(x, np.generic)


def _key_str(key: Any) -> str:
    """One pytree key path entry as text: dict keys, sequence indices, attribute names."""
    for attr in ("key", "idx", "name"):
        if hasattr(key, attr):
            return str(getattr(key, attr))
    return str(key).strip(".[]'\"")


def path_name(path: Sequence[Any], prefix: str = "") -> str:
    """A pytree key path as 'a/b/0', e.g. 'params/params/Dense_0/kernel'."""
    parts = ([prefix] if prefix else []) + [_key_str(k) for k in path]
    return "/".join(parts)


def _split_static(
    fn: Callable[..., Any],
    args: Sequence[Any],
    kwargs: dict[str, Any],
    static_argnums: Sequence[int],
    static_argnames: Sequence[str],
) -> tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any], list[str]]:
    """Close `fn` over its static arguments; return it with the dynamic args and their names."""
    n = len(args)
    nums = set()
    for i in static_argnums:
        j = i + n if i < 0 else i
        if not 0 <= j < n:
            raise CompileError(
                f"static_argnums={tuple(static_argnums)}: index {i} is out of range for {n} positional args"
            )
        nums.add(j)
    names = set(static_argnames)
    dyn_args = tuple(a for i, a in enumerate(args) if i not in nums)
    dyn_kwargs = {k: v for k, v in kwargs.items() if k not in names}
    static_pos = {i: args[i] for i in nums}
    static_kw = {k: v for k, v in kwargs.items() if k in names}

    def closed(*dargs: Any, **dkwargs: Any) -> Any:
        it = iter(dargs)
        full = [static_pos[i] if i in static_pos else next(it) for i in range(n)]
        return fn(*full, **dkwargs, **static_kw)

    arg_names = _positional_names(fn, n)
    dyn_names = [arg_names[i] for i in range(n) if i not in nums]
    return closed, dyn_args, dyn_kwargs, dyn_names


def _positional_names(fn: Callable[..., Any], n: int) -> list[str]:
    """Parameter names of the first n positional arguments ('arg{i}' when unknown)."""
    names = [f"arg{i}" for i in range(n)]
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return names
    for i, p in enumerate(params[:n]):
        if p.kind is inspect.Parameter.VAR_POSITIONAL:
            for j in range(i, n):
                names[j] = f"{p.name}/{j - i}"
            break
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            names[i] = p.name
    return names


def trace(
    fn: Callable[..., Any],
    args: Sequence[Any],
    kwargs: dict[str, Any] | None = None,
    static_argnums: Sequence[int] = (),
    static_argnames: Sequence[str] = (),
) -> Traced:
    """Trace `fn(*args, **kwargs)` with jax.make_jaxpr over its flattened, non-static inputs."""
    kwargs = dict(kwargs or {})
    closed, dyn_args, dyn_kwargs, arg_names = _split_static(fn, args, kwargs, static_argnums, static_argnames)
    tree = (dyn_args, dyn_kwargs)
    clean = jax.tree_util.tree_map(lambda x: x.value if _is_public(x) else x, tree, is_leaf=_is_public)
    marks = jax.tree_util.tree_map(
        lambda x: jax.tree_util.tree_map(lambda _: True, x.value) if _is_public(x) else False,
        tree,
        is_leaf=_is_public,
    )
    path_leaves, in_tree = jax.tree_util.tree_flatten_with_path(clean)
    flat_marks = jax.tree_util.tree_leaves(marks)
    if len(flat_marks) != len(path_leaves):
        raise CompileError(
            "public(...) marks do not line up with the argument leaves; wrap whole arrays or subtrees"
        )
    raw = [leaf for _, leaf in path_leaves]
    names = [_leaf_name(path, arg_names) for path, _ in path_leaves]
    vis = [
        Visibility.PUBLIC if (m or _is_python_scalar(x)) else Visibility.SECRET
        for m, x in zip(flat_marks, raw)
    ]
    out_tree_box: list[Any] = []

    def flat_fn(*leaves: Any) -> list[Any]:
        a, k = jax.tree_util.tree_unflatten(in_tree, leaves)
        out = closed(*a, **k)
        flat_out, out_tree = jax.tree_util.tree_flatten_with_path(out)
        out_tree_box.append((out_tree, [path_name(p, "out") for p, _ in flat_out]))
        return [x for _, x in flat_out]

    closed_jaxpr = jax.make_jaxpr(flat_fn)(*raw)
    out_tree, out_names = out_tree_box[-1]
    leaves = [np.asarray(x) for x in raw]
    return Traced(closed_jaxpr, leaves, vis, names, in_tree, out_tree, out_names)


def _leaf_name(path: Sequence[Any], arg_names: list[str]) -> str:
    """Name an input leaf from its path in (args, kwargs): 'params/Dense_0/kernel', 'x', 'lr'."""
    if len(path) < 2:
        return path_name(path)
    top, key, rest = _key_str(path[0]), path[1], path[2:]
    if top == "0":
        idx = int(_key_str(key))
        prefix = arg_names[idx] if idx < len(arg_names) else f"arg{idx}"
    else:
        prefix = _key_str(key)
    return path_name(rest, prefix)
