"""SPU: secure computation on secret shares across a cluster's compute parties (SecretFlow's SPU).

    spu = veil.SPU(veil.cluster_def(["alice", "bob"], protocol="semi2k", field="FM64"))
    w = spu(train, static_argnames=["epochs"])(x1, x2, y, epochs=10)   # SPUObject: shares at the nodes

Arguments: a PYUObject of a compute party is a PRIVATE input -- it stays in plaintext at its
owner's node, and the HAL secret-shares it only when an op combines it with another party's
data; a PYUObject of any other party (outsourced mode) is secret-shared by its owner; SPUObjects of the same SPU are
passed by reference (their shares never leave the nodes); `veil.public(x)`, plain arrays and
Python scalars are public (every party has them). The function is traced and compiled to veil
IR in the caller's process (once per function, static arguments and input types: repeated
calls reuse the compiled program); the nodes receive the serialized IR (never Python code) and check
its hash with each other before running it. In production mode every party compiles the
function itself and the parties compare hashes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import jax
import numpy as np

from veil.device.codec import decode, encode
from veil.device.objects import DeviceObject, LeafMeta, PYUObject, SPUObject
from veil.device.private import Mark, ProgramCache
from veil.device.runner import Source
from veil.device.simulation import RunStats
from veil.dtypes import Visibility
from veil.errors import VeilError
from veil.frontend import Public, public
from veil.ir.program import Program
from veil.ir.serialize import dumps, program_hash

if TYPE_CHECKING:
    from veil.device.api import Session
    from veil.device.cluster import ClusterConfig
    from veil.device.pyu import PYU


class Runner(Protocol):
    """How an SPU reaches its compute parties (driver-controlled nodes, or this party's own link)."""

    def run(
        self,
        job: str,
        program: Program,
        blob: bytes,
        digest: str,
        sources: Sequence[Source],
        out_ids: list[str],
    ) -> RunStats: ...

    def reveal(self, ids: list[str]) -> list[np.ndarray]: ...

    def reveal_to(self, job: str, party: str, ids: list[str]) -> list[np.ndarray] | None: ...

    def delete(self, ids: list[str]) -> None: ...

    def shutdown(self) -> None: ...


class SPU:
    """The secure device over one cluster's compute parties."""

    def __init__(
        self, cluster_def: Any = None, *, session: Session | None = None, keep_private: bool = True
    ) -> None:
        """`keep_private=False` secret-shares every PYU input up front (the all-secret path; for
        comparisons), instead of keeping a compute party's own inputs PRIVATE at its node."""
        from veil.device.api import current_session

        self.session = session if session is not None else current_session()
        self.cluster: ClusterConfig = self.session.spu_cluster(cluster_def)
        self.config = self.cluster.runtime
        self.keep_private = keep_private
        self._cache = ProgramCache(self.config)
        self.stats = RunStats()
        self.program: Program | None = None
        self.runner: Runner = self.session.start_runner(self)

    @property
    def parties(self) -> tuple[str, ...]:
        return self.cluster.compute

    def __call__(
        self,
        fn: Callable[..., Any],
        static_argnames: str | Sequence[str] = (),
        static_argnums: int | Sequence[int] = (),
        num_returns: int | None = None,
    ) -> Callable[..., Any]:
        """Wrap `fn` to run on this SPU; the call returns an SPUObject (or `num_returns` of them)."""
        names = (static_argnames,) if isinstance(static_argnames, str) else tuple(static_argnames)
        nums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return self._call(fn, args, kwargs, nums, names, num_returns)

        wrapper.__name__ = getattr(fn, "__name__", "spu_fn")
        return wrapper

    # -- a call ----------------------------------------------------------------------------------

    def _call(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
              nums: tuple[int, ...], names: tuple[str, ...], num_returns: int | None) -> Any:  # fmt: skip
        job = self.session.next_job()
        start = time.perf_counter()
        args2, kwargs2, raw, marks = self._prepare(args, kwargs, nums, names)
        compiled, _ = self._cache.get(fn, args2, kwargs2, nums, names, marks)
        program = compiled.program
        if len(program.inputs) != len(raw):
            raise VeilError(
                f"SPU: {len(program.inputs)} program inputs but {len(raw)} sources (internal error; please report)"
            )
        if "blob" not in compiled.extra:
            compiled.extra["blob"] = dumps(program)
            compiled.extra["hash"] = program_hash(program)
        blob, digest = compiled.extra["blob"], compiled.extra["hash"]
        sources = [
            self._source(r, v.type, compiled.names[i]) for i, (r, v) in enumerate(zip(raw, program.inputs))
        ]
        out_ids = [f"{job}.{i}" for i in range(len(program.outputs))]
        compile_s = time.perf_counter() - start
        start = time.perf_counter()
        stats = self.runner.run(job, program, blob, digest, sources, out_ids)
        stats.wall_s, stats.compile_s = time.perf_counter() - start, compile_s
        self.stats = stats
        self.program = program
        leaves = [
            LeafMeta(obj_id, tuple(aval.shape), np.dtype(aval.dtype), v.type.dtype, v.type.vis, v.type.owner)
            for obj_id, aval, v in zip(out_ids, compiled.out_avals, program.outputs)
        ]
        return _split(SPUObject(self, compiled.out_tree, leaves), num_returns, getattr(fn, "__name__", "fn"))

    def _prepare(self, args: tuple[Any, ...], kwargs: dict[str, Any], nums: tuple[int, ...],
                 names: tuple[str, ...]) -> tuple[list[Any], dict[str, Any], list[tuple[Any, ...]], list[Mark]]:  # fmt: skip
        """Replace device objects by plaintext or placeholders; list each flat input's source and
        its private mark (an input that stays at its owner), in the frontend's leaf order."""
        n = len(args)
        static_pos = {i + n if i < 0 else i for i in nums}
        dyn_pos = [i for i in range(n) if i not in static_pos]
        dyn_kw = {k: v for k, v in kwargs.items() if k not in names}
        raw: list[tuple[Any, ...]] = []
        marks: list[Mark] = []

        def replace(x: Any) -> Any:
            if isinstance(x, PYUObject):
                tree = self._from_pyu(x, raw)
                mark = self._private_mark(x.owner)
                marks.extend([mark] * (len(raw) - len(marks)))
                return tree
            if isinstance(x, SPUObject):
                if x.device is not self:
                    raise VeilError(
                        "SPU: an SPUObject of another SPU was passed; reveal it and pass the plaintext, or use one SPU"
                    )
                raw.extend(("ref", m.id) for m in x.leaves)
                marks.extend(
                    (Visibility.PRIVATE, m.owner)
                    if m.vis is Visibility.PRIVATE and m.owner is not None
                    else None
                    for m in x.leaves
                )
                return jax.tree_util.tree_unflatten(
                    x.tree,
                    [
                        public(m.placeholder()) if m.vis is Visibility.PUBLIC else m.placeholder()
                        for m in x.leaves
                    ],
                )
            inner = x.value if isinstance(x, Public) else x
            leaves = jax.tree_util.tree_leaves(inner)
            raw.extend(("public", leaf) for leaf in leaves)
            marks.extend([None] * len(leaves))
            return public(inner) if not _is_scalar(inner) else inner

        dyn = jax.tree_util.tree_map(replace, (tuple(args[i] for i in dyn_pos), dyn_kw), is_leaf=_is_leafish)
        new_args = list(args)
        for i, value in zip(dyn_pos, dyn[0]):
            new_args[i] = value
        return new_args, {**kwargs, **dyn[1]}, raw, marks

    def _private_mark(self, owner: str) -> Mark:
        """A compute party's own input stays PRIVATE (plaintext at its node) until an op needs it
        shared; an owner outside the compute parties (outsourced mode) secret-shares it."""
        if not self.keep_private or owner not in self.cluster.compute:
            return None
        return (Visibility.PRIVATE, self.cluster.rank_of(owner))

    def _from_pyu(self, obj: PYUObject, raw: list[tuple[Any, ...]]) -> Any:
        owner = obj.owner
        if owner not in self.session.parties:
            raise VeilError(
                f"SPU: input owned by {owner!r}, who is not a party of this session {self.session.parties}"
            )
        tree, data = self.session.pyu_input(obj)
        raw.extend(("secret", owner, a) for a in data)
        return tree

    def _source(self, raw: tuple[Any, ...], value_type: Any, name: str) -> Source:
        kind = raw[0]
        if kind == "ref":
            return Source("ref", ref=raw[1])
        if kind == "secret":
            ring = None if raw[2] is None else encode(self.config, raw[2], value_type.dtype, name)
            return Source("secret", owner=raw[1], ring=ring)
        return Source("public", ring=encode(self.config, np.asarray(raw[1]), value_type.dtype, name))

    # -- moving values out -----------------------------------------------------------------------

    def _decode(self, obj: SPUObject, rings: list[np.ndarray]) -> Any:
        flat = [
            decode(self.config, np.asarray(r), m.ir_dtype, m.dtype).reshape(m.shape)
            for r, m in zip(rings, obj.leaves)
        ]
        return jax.tree_util.tree_unflatten(obj.tree, flat)

    def reveal(self, obj: SPUObject) -> Any:
        """The plaintext of `obj` to the caller (collective in production mode)."""
        self._own(obj)
        return self._decode(obj, self.runner.reveal([m.id for m in obj.leaves]))

    def reveal_to(self, obj: SPUObject, pyu: PYU) -> PYUObject:
        """obj.to(pyu): reconstruct `obj` at that party only; others get a placeholder."""
        from veil.device.pyu import PYU

        self._own(obj)
        if not isinstance(pyu, PYU):
            raise VeilError(f"SPUObject.to: expected a PYU, got {type(pyu).__name__}")
        rings = self.runner.reveal_to(self.session.next_job(), pyu.party, [m.id for m in obj.leaves])
        if rings is None:
            return PYUObject(pyu, None, placeholder=True)
        return PYUObject(pyu, self._decode(obj, rings))

    def receive(self, obj: DeviceObject) -> SPUObject:
        """pyu_obj.to(spu): secret-share a party's value into this SPU (by its owner)."""
        if isinstance(obj, SPUObject):
            self._own(obj)
            return obj
        return self(lambda x: x)(obj)

    def delete(self, obj: SPUObject) -> None:
        """Free the nodes' copies of `obj` (they are also freed when the SPU shuts down)."""
        self._own(obj)
        self.runner.delete([m.id for m in obj.leaves])

    def _own(self, obj: SPUObject) -> None:
        if obj.device is not self:
            raise VeilError("this SPUObject belongs to another SPU")

    def shutdown(self) -> None:
        self.runner.shutdown()

    def __repr__(self) -> str:
        return f"SPU({list(self.cluster.compute)}, {self.config.protocol.value}, {self.config.field.name})"


def _is_scalar(x: Any) -> bool:
    return isinstance(x, (bool, int, float)) and not isinstance(x, np.generic)


def _is_leafish(x: Any) -> bool:
    return isinstance(x, (DeviceObject, Public))


def _split(obj: SPUObject, num_returns: int | None, fn_name: str) -> Any:
    """num_returns=k: one SPUObject per element of the function's output tuple."""
    if num_returns is None:
        return obj
    children = obj.tree.children()
    if obj.tree.num_nodes == 1 or len(children) != num_returns:
        raise VeilError(f"SPU {fn_name}: num_returns={num_returns}, but it returns {obj.tree}")
    out, start = [], 0
    for child in children:
        k = child.num_leaves
        out.append(SPUObject(obj.device, child, obj.leaves[start : start + k]))
        start += k
    return tuple(out)
