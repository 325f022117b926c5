"""Device objects (SecretFlow's names): what a device call returns, and `reveal`.

- `PYUObject`: a plaintext value (any pytree of arrays) that lives at one party. In production
  mode, parties other than the owner hold a placeholder (`data is None`).
- `SPUObject`: a pytree of values held by the SPU's compute parties -- shares for secret values.
  The driver keeps only ids, shapes and dtypes.

`reveal(obj)` brings a value to the caller; `obj.to(device)` moves it: PYU -> SPU secret-shares
it (by its owner), SPU -> PYU reconstructs it at that party only, PYU -> PYU sends the plaintext.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jax
import numpy as np

from veil.dtypes import DType, Visibility
from veil.errors import VeilError

if TYPE_CHECKING:
    from veil.device.pyu import PYU
    from veil.device.spu import SPU


class DeviceObject:
    """Base of every device object: it knows its device."""

    device: Any

    def to(self, device: Any) -> DeviceObject:
        """Move this object to `device` (see the module docstring for what each move means)."""
        return device.receive(self)


class PYUObject(DeviceObject):
    """A plaintext pytree at one party. `data` is None where this process is not that party."""

    def __init__(self, device: PYU, data: Any, placeholder: bool = False) -> None:
        self.device = device
        self.data = data
        self.placeholder = placeholder

    @property
    def owner(self) -> str:
        return self.device.party

    def __repr__(self) -> str:
        what = "placeholder" if self.placeholder else "value"
        return f"PYUObject(owner={self.owner!r}, {what})"


@dataclass(frozen=True)
class LeafMeta:
    """One leaf of an SPUObject: the id the nodes store it under and its types."""

    id: str
    shape: tuple[int, ...]
    dtype: np.dtype  # the plaintext dtype reveal returns
    ir_dtype: DType
    vis: Visibility
    owner: int | None = None  # the holder's rank, for a PRIVATE value

    def placeholder(self) -> jax.ShapeDtypeStruct:
        return jax.ShapeDtypeStruct(self.shape, self.dtype)


class SPUObject(DeviceObject):
    """A pytree of values held by an SPU's compute parties (shares, for secret leaves)."""

    def __init__(self, device: SPU, tree: Any, leaves: list[LeafMeta]) -> None:
        self.device = device
        self.tree = tree
        self.leaves = leaves

    @property
    def shape(self) -> Any:
        """The pytree of leaf shapes."""
        return jax.tree_util.tree_unflatten(self.tree, [m.shape for m in self.leaves])

    def __repr__(self) -> str:
        shapes = ", ".join(
            f"{m.shape}{'' if m.vis is Visibility.SECRET else ' ' + m.vis.value}{'' if m.owner is None else f'@{m.owner}'}"
            for m in self.leaves
        )
        return f"SPUObject([{shapes}])"


def _is_object(x: Any) -> bool:
    return isinstance(x, DeviceObject)


def reveal(obj: Any) -> Any:
    """The plaintext of a device object, or of every device object in a pytree (to the caller).

    In local mode the caller is the driver (which simulates every party). In production mode
    revealing an SPUObject is collective: every party's script must call it, and every party
    learns the value; use `obj.to(pyu)` to reveal to one party only.
    """
    if _is_object(obj):
        return _reveal_one(obj)
    return jax.tree_util.tree_map(lambda x: _reveal_one(x) if _is_object(x) else x, obj, is_leaf=_is_object)


def _reveal_one(obj: DeviceObject) -> Any:
    if isinstance(obj, PYUObject):
        if obj.placeholder:
            raise VeilError(
                f"reveal: this object lives at party {obj.owner!r}, not in this party's process; "
                f"move it with obj.to(veil.PYU(<your party>)) (it becomes visible to that party)"
            )
        return obj.data
    if isinstance(obj, SPUObject):
        return obj.device.reveal(obj)
    raise VeilError(f"reveal: cannot reveal {type(obj).__name__}")
