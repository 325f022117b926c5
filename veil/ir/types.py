"""IR value types: shape, dtype (fxp / int / bool) and visibility (public < secret, private)."""

from __future__ import annotations

from dataclasses import dataclass

from veil.dtypes import DType, Visibility, vis_rank

__all__ = ["DType", "TensorType", "Visibility", "join_vis", "vis_leq", "vis_rank"]


@dataclass(frozen=True)
class TensorType:
    """Static type of an SSA value. `owner` is set only for PRIVATE values."""

    shape: tuple[int, ...]
    dtype: DType
    vis: Visibility = Visibility.SECRET
    owner: int | None = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    def with_vis(self, vis: Visibility, owner: int | None = None) -> TensorType:
        return TensorType(self.shape, self.dtype, vis, owner if vis is Visibility.PRIVATE else None)

    def with_dtype(self, dtype: DType) -> TensorType:
        return TensorType(self.shape, dtype, self.vis, self.owner)

    def with_shape(self, shape: tuple[int, ...]) -> TensorType:
        return TensorType(tuple(shape), self.dtype, self.vis, self.owner)

    def __str__(self) -> str:
        dims = "x".join(str(d) for d in self.shape) or "scalar"
        vis = self.vis.value if self.owner is None else f"private@{self.owner}"
        return f"{vis}<{dims}x{self.dtype.value}>"


def join_vis(*types: TensorType) -> tuple[Visibility, int | None]:
    """Visibility of a result computed from these inputs (public ⊔ secret = secret).

    Two PRIVATE inputs with the same owner stay private to that owner; different owners -> SECRET.
    """
    vis = Visibility.PUBLIC
    owner: int | None = None
    for t in types:
        if t.vis is Visibility.SECRET:
            return Visibility.SECRET, None
        if t.vis is Visibility.PRIVATE:
            if vis is Visibility.PRIVATE and owner != t.owner:
                return Visibility.SECRET, None
            vis, owner = Visibility.PRIVATE, t.owner
    return vis, owner


def vis_leq(a: TensorType, b: TensorType) -> bool:
    """True if data of visibility `a` may flow into a value of visibility `b` without a leak.

    The lattice is PUBLIC < PRIVATE(owner) < SECRET; private values of different owners are
    incomparable.
    """
    if a.vis is Visibility.PUBLIC or b.vis is Visibility.SECRET:
        return True
    return a.vis is Visibility.PRIVATE and b.vis is Visibility.PRIVATE and a.owner == b.owner
