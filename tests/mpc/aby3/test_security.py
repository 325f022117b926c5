"""aby3 privacy and failure behaviour.

Uniformity: for a FIXED secret whose three input components are also fixed (so each party's
own view is constant), every array a party receives during a kernel, and the output components
of kernels that make fresh sharings, must look uniform: each bit position's frequency over N
elements within 6 sigma of 1/2 (N = 4096: 6 sigma = 0.047), and different on every run. A
message that leaks a function of the secret and the receiver's own shares fails this test. Failure: a party that raises, before or in the middle of a circuit,
makes the others raise PartyError at once instead of waiting for their timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tests.mpc.aby3.common import FIELDS, IDS, uniform
from tests.mpc.protocol_harness import Arith, Pub, run_protocol
from veil.config import Field
from veil.errors import PartyError
from veil.mpc import ring
from veil.mpc.aby3 import KERNELS, shares
from veil.mpc.context import ProtocolContext

N = 4096
TOL = 6 * 0.5 / np.sqrt(N)

pytestmark = pytest.mark.parametrize("field", FIELDS, ids=IDS)


def _bit_matrix(arr: np.ndarray) -> np.ndarray:
    """(samples, bit positions) 0/1 matrix of an array received or held by a party.

    Bit planes (uint8, 2-D) carry one element per bit: samples are elements, positions rows.
    Anything else (ring elements, words) is read element by element, all bits of each.
    """
    arr = np.ascontiguousarray(arr)
    if arr.dtype == np.uint8 and arr.ndim == 2:
        return np.unpackbits(arr, axis=1, bitorder="little").T
    raw = arr.reshape(-1).view(np.uint8).reshape(arr.size, arr.dtype.itemsize)
    return np.unpackbits(raw, axis=1, bitorder="little")


def _assert_uniform(arr: np.ndarray, what: str) -> None:
    freq = _bit_matrix(arr).mean(axis=0)
    worst = int(np.argmax(np.abs(freq - 0.5)))
    assert abs(freq[worst] - 0.5) < TOL, f"{what}: bit {worst} has frequency {freq[worst]:.3f}"


def _recording(ctx: ProtocolContext) -> list[tuple[int, str, np.ndarray]]:
    """Make ctx.link keep a copy of every array it receives."""
    log: list[tuple[int, str, np.ndarray]] = []
    recv = ctx.link.recv

    def wrapped(frm: int, tag: str) -> np.ndarray:
        arr = recv(frm, tag)
        log.append((frm, tag, np.array(arr, copy=True)))
        return arr

    ctx.link.recv = wrapped  # type: ignore[method-assign]
    return log


class Fixed:
    """Input shares whose three components are the same constants in every element, so that
    every party's own view is fixed: what it receives must then be masked by fresh PRG bits."""

    def __init__(self, field: Field, value: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        k = field.bits
        c0, c1 = (int(v) for v in rng.integers(0, 2**63, size=2))
        parts = [c0, c1, (value - c0 - c1) % (1 << k)]
        comps = [ring.full(field, (N,), c) for c in parts]
        self.payloads = [shares.pack(comps[i], comps[(i + 1) % 3]) for i in range(3)]


class FixedBool(Fixed):
    def __init__(self, field: Field, value: int, seed: int) -> None:
        super().__init__(field, 0, seed)
        c0, c1 = (ring.to_pyints(shares.unpack(self.payloads[0])[j][:1])[0] for j in range(2))
        comps = [ring.full(field, (N,), c) for c in (c0, c1, (value % (1 << field.bits)) ^ c0 ^ c1)]
        self.payloads = [shares.pack(comps[i], comps[(i + 1) % 3]) for i in range(3)]


def _views(field: Field, kernel: str, *inputs: Any) -> list[tuple[list[tuple[int, str, np.ndarray]], Any]]:
    def fn(ctx: ProtocolContext, *args: Any) -> tuple[list[tuple[int, str, np.ndarray]], Any]:
        args = tuple(a.payloads[ctx.rank] if isinstance(a, Fixed) else a for a in args)
        log = _recording(ctx)
        return log, KERNELS[kernel](ctx, *args)

    return run_protocol("aby3", 3, field, fn, *inputs, out="raw", timeout=20.0).result


def _fixed(field: Field, value: int) -> np.ndarray:
    return ring.full(field, (N,), value)


def _cases(field: Field) -> list[tuple[str, tuple[Any, ...], bool]]:
    """(kernel, inputs, output is a fresh random sharing) on fixed secrets and fixed shares."""
    k = field.bits
    x, y = Fixed(field, -123456789, 1), Fixed(field, 987654321, 2)
    return [
        ("v2s", (Pub(_fixed(field, 7)), 1, (N,)), False),
        ("mul_ss", (x, y), True),
        ("square_s", (x,), True),
        ("trunc_s", (x, 18), True),
        ("trunc_s", (x, k - 2), True),  # the OT words are full ring elements here
        ("mul_trunc_ss", (y, Fixed(field, -3, 3), 18), True),
        ("msb_s", (x,), True),
        ("msb_s", (Fixed(field, 0, 4),), True),
        ("eqz_s", (Fixed(field, 0, 5),), True),
        ("a2b", (x,), False),  # output bit 0 is p_0 = the input's bit 0 (no carry in): not fresh
        ("b2a", (FixedBool(field, -5, 6),), True),
        ("bit2a", (FixedBool(field, 1, 7),), True),
        ("bit2a", (FixedBool(field, 0, 8),), True),
        ("and_bb", (FixedBool(field, 12345, 9), FixedBool(field, -1, 10)), True),
        ("rand_bits_s", ((N,),), True),
    ]


def test_every_received_message_is_uniform(field: Field) -> None:
    for kernel, inputs, fresh in _cases(field):
        views = _views(field, kernel, *inputs)
        assert any(log for log, _ in views), kernel
        for rank, (log, out) in enumerate(views):
            for frm, tag, arr in log:
                _assert_uniform(arr, f"{kernel}: party {rank} received '{tag}' from {frm}")
            if fresh:
                _assert_uniform(out["s0"], f"{kernel}: party {rank} output s0")
                _assert_uniform(out["s1"], f"{kernel}: party {rank} output s1")


def test_s2v_sends_only_to_the_target(field: Field) -> None:
    views = _views(field, "s2v", Arith(_fixed(field, 9)), 0)
    assert [len(log) for log, _ in views] == [1, 0, 0]
    _assert_uniform(views[0][0][0][2], "s2v: the component party 0 receives (random sharing)")


def test_v2s_shares_of_a_fixed_secret_are_uniform(field: Field) -> None:
    """The non-owners' components: the received x - r, and r from the owner's pair stream."""
    views = _views(field, "v2s", Pub(_fixed(field, 42)), 0, (N,))
    _assert_uniform(views[1][1]["s0"], "v2s: party 1 (receives x - r)")
    _assert_uniform(views[2][1]["s1"], "v2s: party 2 (holds r)")


def test_fresh_randomness_every_run(field: Field) -> None:
    x = Arith(_fixed(field, 5))
    first = _views(field, "msb_s", x)
    second = _views(field, "msb_s", x)
    for (log1, _), (log2, _) in zip(first, second):
        for (_, _, a), (_, _, b) in zip(log1, log2):
            assert not np.array_equal(a, b)


def _failing(rank: int, after_sends: int) -> Callable[[ProtocolContext], None]:
    """Make party `rank`'s link raise on its (after_sends + 1)-th send."""

    def arm(ctx: ProtocolContext) -> None:
        if ctx.rank != rank:
            return
        send, count = ctx.link.send, [0]

        def wrapped(to: int, tag: str, arr: np.ndarray) -> None:
            count[0] += 1
            if count[0] > after_sends:
                raise RuntimeError(f"injected failure of party {rank}")
            send(to, tag, arr)

        ctx.link.send = wrapped  # type: ignore[method-assign]

    return arm


@pytest.mark.parametrize("rank,after_sends", [(1, 0), (2, 3), (0, 5)], ids=["start", "mid-1", "mid-2"])
def test_failure_reaches_every_party(field: Field, rank: int, after_sends: int) -> None:
    seen: dict[int, BaseException] = {}
    arm = _failing(rank, after_sends)

    def fn(ctx: ProtocolContext, x: np.ndarray) -> Any:
        try:
            y = KERNELS["mul_ss"](ctx, x, x)
            KERNELS["s2p"](ctx, y)  # both neighbours are past their setup
            arm(ctx)
            return KERNELS["msb_s"](ctx, KERNELS["mul_ss"](ctx, y, x))
        except BaseException as e:  # a waiting recv raises PartyError even with a frame queued
            seen[ctx.rank] = e
            raise

    x = uniform(np.random.default_rng(0), field, (64,))
    start = time.monotonic()
    with pytest.raises(PartyError, match="injected failure"):
        run_protocol("aby3", 3, field, fn, Arith(x), out="raw", timeout=15.0)
    assert time.monotonic() - start < 5.0  # not a timeout: the failure is broadcast
    assert isinstance(seen[rank], RuntimeError)
    assert set(seen) == {0, 1, 2}  # nobody can finish msb_s without the failed party
    for other in set(range(3)) - {rank}:
        assert isinstance(seen[other], PartyError), (other, seen[other])
