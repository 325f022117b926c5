"""veil.mpc.fxp_codec: exact fixed-point encoding on both fields, range errors, decoding."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.mpc.test_ring import FIELDS, SETTINGS, arrays, check, signed
from veil.config import Field
from veil.mpc import fxp_codec


@pytest.mark.parametrize("field", FIELDS)
@SETTINGS
@given(data=st.data())
def test_encode_fxp_exact(field: Field, data: st.DataObject) -> None:
    k = field.bits
    f = data.draw(st.sampled_from([0, 1, 18, 26, 40]))
    bound = 2.0 ** (k - 1 - f)
    finite = st.floats(-bound, bound, exclude_min=True, exclude_max=True, allow_nan=False)
    specials = st.sampled_from([0.0, -0.0, 0.5, -0.5, 1.5, 2.5, -2.5, 2.0**-f / 2, bound / 2, -bound / 2])
    vals = data.draw(st.lists(st.one_of(finite, specials), min_size=1, max_size=8))
    x = np.array(vals)
    got = fxp_codec.encode_fxp(field, x, f)
    want = np.array([round(v * 2.0**f) for v in vals], dtype=object)  # round(): ties to even, exact
    check(got, want, field)
    back = fxp_codec.decode_fxp(got, f)
    assert back.dtype == np.float64
    np.testing.assert_allclose(back, x, rtol=2**-52, atol=2.0 ** (-f - 1))


@pytest.mark.parametrize("field", FIELDS)
def test_encode_fxp_rejects(field: Field) -> None:
    k, f = field.bits, 18
    for bad in (np.nan, np.inf, -np.inf, 2.0 ** (k - 1 - f), -(2.0 ** (k - 1 - f)), 1e300, -1.7e308):
        with pytest.raises(ValueError, match="out of range"):
            fxp_codec.encode_fxp(field, np.array([1.0, bad]), f)
    with pytest.raises(ValueError, match="fbits"):
        fxp_codec.encode_fxp(field, np.array([1.0]), k)
    assert fxp_codec.encode_fxp(field, np.array(np.nextafter(2.0 ** (k - 1 - f), 0)), f).shape == ()


@pytest.mark.parametrize("field", FIELDS)
@SETTINGS
@given(data=st.data())
def test_decode_fxp(field: Field, data: st.DataObject) -> None:
    k = field.bits
    f = data.draw(st.sampled_from([0, 18, 26]))
    a, ao = data.draw(arrays(field, (6,)))
    got = fxp_codec.decode_fxp(a, f)
    assert isinstance(got, np.ndarray) and got.dtype == np.float64
    assert fxp_codec.decode_fxp(a[0], f).shape == ()
    for g, v in zip(got.tolist(), ao):
        exact = signed(int(v), k)
        assert abs(g * 2.0**f - exact) <= abs(exact) * 2.0**-52  # correctly rounded or 1 ulp off
