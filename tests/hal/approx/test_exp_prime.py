"""exp by local exponentiation of shares (ExpMode.PRIME): accuracy over the whole line, the
published range score on [-40, 40], clamping, cost, and the clear error off semi2k 2PC."""

from __future__ import annotations

import numpy as np
import pytest

from tests.hal.approx._common import assert_close, bytes_per_elem, cfg_for, errors, max_rounds
from tests.hal.runner import run, secret
from veil.errors import ConfigError, PartyError
from veil.hal.approx import f_exp
from veil.mpc.api import exp_prime_range

FIELDS = ["FM128", "FM64"]


def _exp(ctx, x):  # type: ignore[no-untyped-def]
    return f_exp(ctx, x)


def range_score(got: np.ndarray, x: np.ndarray) -> float:
    """Mean of the fractions with relative error < 5%, 1%, 0.05% and absolute error < 5, 1, 0.05."""
    want = np.exp(x)
    ae = np.abs(got - want)
    re = ae / want
    fr = [np.mean(re < t) for t in (0.05, 0.01, 5e-4)] + [np.mean(ae < t) for t in (5.0, 1.0, 0.05)]
    return float(np.mean(fr))


@pytest.mark.parametrize("field", FIELDS)
def test_accurate_inside_the_range(field: str) -> None:
    """< 1 LSB absolute + 1e-8 (FM128) / 3e-8 (FM64) relative against float64 on the encoded x."""
    cfg = cfg_for("semi2k", field, exp="prime")
    lo, hi = exp_prime_range(cfg.field.bits, cfg.f)
    x = np.concatenate([np.linspace(lo + 1e-3, hi - 1e-3, 3001), np.linspace(-5, 5, 101)])
    got, want, _ = errors(cfg, _exp, np.exp, x)
    rtol = 1e-8 if field == "FM128" else 3e-8
    assert_close(got, want, atol=1.01 * 2.0**-cfg.f, rtol=rtol, what=f"exp prime {field}")


@pytest.mark.parametrize("field", FIELDS)
def test_clamps_below_and_saturates_above(field: str) -> None:
    """Below L the result is 0 (e^L is a quarter LSB); above H it is e^H; any magnitude."""
    cfg = cfg_for("semi2k", field, exp="prime")
    lo, hi = exp_prime_range(cfg.field.bits, cfg.f)
    big = 2.0 ** (cfg.field.bits - 3 - cfg.f)
    x = np.array([-big, -1e6, lo - 1.0, lo - 1e-4, hi + 1e-4, hi + 3.0, 1e5, big])
    got, _, _ = errors(cfg, _exp, np.exp, x)
    assert np.all(got[:4] == 0.0)
    np.testing.assert_allclose(got[4:], np.exp(hi), rtol=1e-7)


def test_range_score_beats_spu() -> None:
    """The published exp benchmark: 10,000 points on [-40, 40]; SPU's prime scores 0.666."""
    cfg = cfg_for("semi2k", "FM128", exp="prime")
    x = np.linspace(-40.0, 40.0, 10_000)
    res = run(cfg, _exp, secret(x))
    score = range_score(res.outputs[0], x)
    assert score >= 0.70, score
    # mean relative error on [-20, 20] (SPU's clamp at -11.8 alone costs it > 10)
    xs = np.linspace(-20.0, 20.0, 2001)
    got = run(cfg, _exp, secret(xs)).outputs[0]
    assert np.mean(np.abs(got - np.exp(xs)) / np.exp(xs)) < 0.06


@pytest.mark.parametrize("field,rounds,nbytes", [("FM128", 7, 137.0), ("FM64", 6, 110.0)])
def test_cost(field: str, rounds: int, nbytes: float) -> None:
    """Targets: <= 11 rounds and <= 168 B per element (SPU's prime on FM128)."""
    cfg = cfg_for("semi2k", field, exp="prime")
    n = 500
    _, _, res = errors(cfg, _exp, np.exp, np.linspace(-3, 3, n))
    assert max_rounds(res) == rounds
    assert bytes_per_elem(res, n) == pytest.approx(nbytes, abs=1.0)


@pytest.mark.parametrize("proto,world", [("ref2k", 1), ("semi2k", 3), ("aby3", 3)])
def test_other_protocols_are_a_clear_error(proto: str, world: int) -> None:
    cfg = cfg_for(proto, "FM128", exp="prime").with_(world_size=world)
    with pytest.raises((ConfigError, PartyError), match="2 parties"):
        run(cfg, _exp, secret(np.zeros(3)))


def test_public_input_is_plaintext() -> None:
    from tests.hal.runner import public

    cfg = cfg_for("semi2k", "FM128", exp="prime")
    res = run(cfg, _exp, public(np.array([-30.0, 0.0, 30.0])))
    np.testing.assert_allclose(res.outputs[0], np.exp([-30.0, 0.0, 30.0]), rtol=1e-7, atol=2e-8)
