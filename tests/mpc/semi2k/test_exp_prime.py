"""semi2k exp_prime_s: local exponentiation of shares. The fixed-base power against Python ints,
the kernel against float64 on the encoded input over its valid range, the keep mask, and the
share-level facts the protocol relies on."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.mpc.protocol_harness import Arith, Pub, measure_kernel, run_protocol
from veil.config import DEFAULT_FXP_BITS, Field
from veil.mpc import fxp_codec, ring
from veil.mpc.api import exp_prime_range
from veil.mpc.semi2k.exp_prime import pow3

MOD = 1 << 128


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=8))
def test_pow3_is_modular_power(exps: list[int]) -> None:
    got = ring.to_pyints(pow3(np.array(exps, dtype=np.uint64)))
    assert got == [pow(3, e, MOD) for e in exps]


def test_three_generates_a_group_that_turns_share_sums_into_products() -> None:
    """3^a 3^(b - 2^64) = 3^(a + b - 2^64) mod 2^128 for integers of any sign (the kernel's step 1)."""
    a, b = 2**63 + 12345, 2**64 - 2**63 - 12300  # a + b - 2^64 = 45
    lhs = pow(3, a, MOD) * pow(3, b, MOD) * pow(3, -(1 << 64), MOD) % MOD
    assert lhs == 3**45


def _run(field: Field, x: np.ndarray, keep: np.ndarray) -> np.ndarray:
    f = DEFAULT_FXP_BITS[field]
    run = measure_kernel(
        "semi2k",
        2,
        field,
        "exp_prime_s",
        Arith(fxp_codec.encode_fxp(field, x, f)),
        Arith(ring.from_int64(field, keep.astype(np.int64))),
    )
    assert run.job.rounds == 3
    assert run.job.online_sent == (84 * x.size, 84 * x.size)
    return fxp_codec.decode_fxp(run.result, f)


@pytest.mark.parametrize("field", [Field.FM128, Field.FM64], ids=lambda f: f.name)
def test_kernel_against_float64(field: Field) -> None:
    f = DEFAULT_FXP_BITS[field]
    lo, hi = exp_prime_range(field.bits, f)
    x = np.linspace(lo, hi, 4001)
    got = _run(field, x, np.ones(x.shape))
    want = np.exp(np.round(x * 2.0**f) / 2.0**f)
    err = np.abs(got - want)
    assert np.all(err <= 2.0**-f + 6e-9 * want), float(np.max(err / (2.0**-f + 6e-9 * want)))
    # unbiased rounding: the mean error of a smooth stretch is far below one LSB
    assert abs(np.mean((got - want)[x < 0])) < 0.1 * 2.0**-f


@pytest.mark.parametrize("field", [Field.FM128, Field.FM64], ids=lambda f: f.name)
def test_keep_zero_gives_exact_zero_for_any_input(field: Field) -> None:
    f = DEFAULT_FXP_BITS[field]
    big = 2.0 ** (field.bits - 3 - f)
    x = np.array([-big, -1e4, -50.0, 0.0, 1.0, 80.0, 1e4, big])
    keep = np.array([0, 0, 0, 0, 1, 0, 0, 0])
    got = _run(field, x, keep)
    assert np.all(got[keep == 0] == 0.0)
    assert got[4] == pytest.approx(np.e, rel=1e-5)


def test_range_constants() -> None:
    lo, hi = exp_prime_range(128, 26)
    assert lo == pytest.approx(-28 * np.log(2.0))
    assert np.exp(hi) * 2.0**26 < 2.0**125 and np.exp(hi - lo) * 2.0**30 < 2.0**124
    lo64, hi64 = exp_prime_range(64, 18)
    assert np.exp(hi64) * 2.0**18 < 2.0**61


@pytest.mark.parametrize("field", [Field.FM128, Field.FM64], ids=lambda f: f.name)
def test_public_values_shared_without_randomness(field: Field) -> None:
    """p2s shares (x, 0) never wrap; the kernel re-randomises before converting shares."""
    f = DEFAULT_FXP_BITS[field]
    x = np.array([-3.0, 0.0, 0.5, 2.0])

    def fn(ctx, xp, kp):  # type: ignore[no-untyped-def]
        s2 = ctx.table.lookup("p2s").fn
        return ctx.table.lookup("exp_prime_s").fn(ctx, s2(ctx, xp), s2(ctx, kp))

    run = run_protocol(
        "semi2k",
        2,
        field,
        fn,
        Pub(fxp_codec.encode_fxp(field, x, f)),
        Pub(ring.from_int64(field, np.ones(4, np.int64))),
    )
    np.testing.assert_allclose(fxp_codec.decode_fxp(run.result, f), np.exp(x), rtol=1e-6, atol=2.0**-f)
