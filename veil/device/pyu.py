"""PYU: plaintext computation at one party (SecretFlow's Python Processing Unit).

    alice = veil.PYU("alice")
    x = alice(load_data)(path)                   # PYUObject owned by alice
    a, b = alice(split, num_returns=2)(x)

Local mode is a simulation: PYU functions run in the driver process on behalf of the party,
and the driver keeps the result tagged with its owner; only that owner's role (played by the
driver) moves it to an SPU. In production mode a PYU function runs only in its owner's process;
every other party gets a placeholder object.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import jax

from veil.device.objects import DeviceObject, PYUObject, SPUObject
from veil.errors import VeilError

if TYPE_CHECKING:
    from veil.device.api import Session


class PYU:
    """The plaintext device of one party."""

    def __init__(self, party: str, session: Session | None = None) -> None:
        from veil.device.api import current_session

        self.session = session if session is not None else current_session()
        self.session.check_party(party)
        self.party = party

    @property
    def is_local(self) -> bool:
        """Whether this process computes for this party (always, in local mode)."""
        return self.session.self_party in (None, self.party)

    def __call__(self, fn: Callable[..., Any], num_returns: int | None = None) -> Callable[..., Any]:
        """Wrap `fn` to run at this party; PYUObject arguments must belong to this party."""
        if not callable(fn):
            raise VeilError(f"PYU({self.party!r})(fn): fn must be callable, got {type(fn).__name__}")
        if num_returns is not None and (not isinstance(num_returns, int) or num_returns < 1):
            raise VeilError(f"PYU({self.party!r}): num_returns must be a positive int, got {num_returns!r}")

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not self.is_local:
                return _placeholders(self, num_returns)
            args, kwargs = jax.tree_util.tree_map(self._unwrap, (args, kwargs), is_leaf=_is_object)
            out = fn(*args, **kwargs)
            if num_returns is None:
                return PYUObject(self, out)
            if not isinstance(out, (tuple, list)) or len(out) != num_returns:
                got = f"{len(out)} values" if isinstance(out, (tuple, list)) else type(out).__name__
                raise VeilError(
                    f"PYU({self.party!r}) {getattr(fn, '__name__', 'fn')}: num_returns={num_returns}, but it returned {got}"
                )
            return tuple(PYUObject(self, o) for o in out)

        wrapper.__name__ = getattr(fn, "__name__", "pyu_fn")
        return wrapper

    def _unwrap(self, x: Any) -> Any:
        if isinstance(x, PYUObject):
            if x.device.party != self.party:
                raise VeilError(
                    f"PYU({self.party!r}) got an object of party {x.owner!r}; move it first with obj.to(veil.PYU({self.party!r}))"
                )
            return x.data
        if isinstance(x, SPUObject):
            raise VeilError(
                f"PYU({self.party!r}) got an SPUObject; reveal it to this party first with obj.to(this_pyu)"
            )
        return x

    def receive(self, obj: DeviceObject) -> PYUObject:
        """obj.to(self): reveal an SPU value to this party, or move another party's plaintext here."""
        if isinstance(obj, SPUObject):
            return obj.device.reveal_to(obj, self)
        if isinstance(obj, PYUObject):
            if obj.device.party == self.party:
                return obj
            if self.session.self_party is not None:
                raise VeilError(
                    "moving a PYU object between parties is not supported in production mode yet; go through an SPU"
                )
            return PYUObject(self, obj.data)
        raise VeilError(f"PYU({self.party!r}) cannot receive {type(obj).__name__}")

    def __repr__(self) -> str:
        return f"PYU({self.party!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PYU) and other.party == self.party and other.session is self.session

    def __hash__(self) -> int:
        return hash(("PYU", self.party))


def _is_object(x: Any) -> bool:
    return isinstance(x, DeviceObject)


def _placeholders(device: PYU, num_returns: int | None) -> Any:
    if num_returns is None:
        return PYUObject(device, None, placeholder=True)
    return tuple(PYUObject(device, None, placeholder=True) for _ in range(num_returns))
