"""semi2k privacy and failure behaviour.

Uniformity: for a FIXED secret, what a party holds or receives (its v2s share, the peers'
opened Beaver masks d and e, the trunc wrap-bit mask, the opened c = x + r and masked circuit
bits) must look uniform: per-bit frequency within 6 sigma of 1/2 over many sharings, and
different on every run. Failure: a party that raises makes the others raise PartyError at once.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest

from tests.mpc.protocol_harness import Arith, Pub, make_config, run_protocol
from veil.config import Field
from veil.errors import ConfigError, PartyError
from veil.link.memory import run_job, run_parties
from veil.mpc import api, ring
from veil.mpc.protocols import make_context, run_dealer

N = 4096  # sharings per test; 6 sigma of a bit frequency is 6 * 0.5 / 64 = 0.047


class Recorder:
    """Wraps a link and keeps every array received, by tag."""

    def __init__(self, link: Any) -> None:
        self._link = link
        self.got: dict[str, list[np.ndarray]] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._link, name)

    def recv(self, frm: int, tag: str) -> np.ndarray:
        arr = self._link.recv(frm, tag)
        self.got.setdefault(tag, []).append(arr)
        return arr


def _bit_freqs(arr: np.ndarray) -> np.ndarray:
    """Frequency of 1 for each bit position of the elements (bytes of any dtype)."""
    raw = np.ascontiguousarray(arr).reshape(arr.shape[0], -1).view(np.uint8)
    return np.unpackbits(raw, axis=1, bitorder="little").mean(axis=0)


def assert_uniform(arr: np.ndarray, what: str) -> None:
    freqs = _bit_freqs(arr)
    worst = float(np.abs(freqs - 0.5).max())
    assert worst < 0.047, f"{what}: a bit is 1 with frequency {0.5 + worst:.3f} (not uniform)"


def _recorded(field: Field, n: int, fn: Any, *inputs: Any) -> list[dict[str, list[np.ndarray]]]:
    def party(ctx, *args):  # type: ignore[no-untyped-def]
        rec = Recorder(ctx.link)
        ctx.link = rec
        fn(ctx, *args)
        return rec.got

    got, _ = run_protocol("semi2k", n, field, party, *inputs, out="raw")
    return got


@pytest.mark.parametrize("field", [Field.FM64, Field.FM128], ids=lambda f: f.name)
def test_v2s_share_uniform_and_fresh(field: Field) -> None:
    x = ring.full(field, (N,), 7)  # the same secret N times

    def fn(ctx, x):  # type: ignore[no-untyped-def]
        return api.v2s(ctx, x if ctx.rank == 0 else None, 0, x.shape)

    runs = [run_protocol("semi2k", 2, field, fn, Pub(x), out="raw").result for _ in range(2)]
    assert_uniform(runs[0][1], "v2s share of party 1")
    assert_uniform(runs[0][0], "v2s share of party 0")
    assert not ring.equal(runs[0][1], runs[1][1]).any()  # fresh randomness per run


@pytest.mark.parametrize("n", [2, 3])
def test_opened_values_uniform(n: int) -> None:
    field = Field.FM64
    x = ring.full(field, (N,), 5 << 18)
    y = ring.full(field, (N,), -(3 << 18))

    def fn(ctx, x, y):  # type: ignore[no-untyped-def]
        api.mul_ss(ctx, x, y)
        api.trunc_s(ctx, x, 18)
        api.msb_s(ctx, x)

    got = _recorded(field, n, fn, Arith(x), Arith(y))[0]  # what party 0 received
    d_e = got["semi2k.mul"][0]
    assert_uniform(d_e[:N], "Beaver d = x - a")
    assert_uniform(d_e[N:], "Beaver e = y - b")
    trunc_tag = "semi2k.trunc2" if n == 2 else "semi2k.truncn"
    assert_uniform(got[trunc_tag][0], "truncation mask")
    assert_uniform(got["semi2k.circ.c"][0], "msb: c = x + r")
    for planes in got["semi2k.circ.level"]:  # masked circuit bits, one packed plane per variable
        freqs = np.unpackbits(planes, axis=1, count=N).mean(axis=1)
        assert np.abs(freqs - 0.5).max() < 0.047, "msb: masked level bits not uniform"


def test_party_failure_becomes_party_error() -> None:
    config = make_config("semi2k", 3, "FM64", timeout=10.0)
    seen: dict[int, BaseException] = {}
    lock = threading.Lock()

    def party(link):  # type: ignore[no-untyped-def]
        try:  # the others may fail already in setup, if party 1 is quick
            ctx = make_context(link, config, dealer_link_present=True)
            x = api.p2s(ctx, ring.full(Field.FM64, (4,), 3))
            if ctx.rank == 1:
                raise RuntimeError("boom in the middle")
            api.mul_ss(ctx, x, x)
        except BaseException as e:
            with lock:
                seen[link.rank] = e
            raise

    start = time.monotonic()
    with pytest.raises(PartyError, match="boom in the middle"):
        run_parties(3, party, timeout=10.0, dealer=lambda link: run_dealer(link, config))
    assert time.monotonic() - start < 5.0  # not a timeout: the failure is pushed to everyone
    assert set(seen) == {0, 1, 2}, seen
    for rank in (0, 2):
        assert isinstance(seen[rank], PartyError) and seen[rank].party == 1


def test_semi2k_requires_dealer() -> None:
    config = make_config("semi2k", 2, "FM64", timeout=5.0)
    with pytest.raises(ConfigError, match="dealer"):
        run_parties(2, lambda link: make_context(link, config, dealer_link_present=False), timeout=5.0)


def test_dealer_stops_on_request() -> None:
    """The last party's STOP ends the dealer loop, which reports how many correlations it served."""
    config = make_config("semi2k", 2, "FM64", timeout=10.0)

    def party(link):  # type: ignore[no-untyped-def]
        ctx = make_context(link, config, dealer_link_present=True)
        x = api.p2s(ctx, ring.full(Field.FM64, (3,), 2))
        api.mul_ss(ctx, x, x)
        api.msb_s(ctx, x)
        ctx.dealer.stop()

    job = run_job(2, party, timeout=10.0, dealer=lambda link: run_dealer(link, config))
    assert job.dealer_result == 2
