"""Plaintext <-> ring encoding of program inputs and outputs, by IR dtype."""

from __future__ import annotations

import numpy as np

from veil.config import RuntimeConfig
from veil.dtypes import DType
from veil.errors import VeilError
from veil.mpc import fxp_codec, ring


def encode(config: RuntimeConfig, x: np.ndarray, dtype: DType, name: str = "") -> np.ndarray:
    """Encode a plaintext array as ring elements: fixed point for FXP, integers otherwise."""
    arr = np.asarray(x)
    if dtype is DType.FXP:
        values = arr.astype(np.float64)
        if not np.all(np.isfinite(values)):
            raise VeilError(f"input '{name}' has NaN or infinite values: fixed point cannot hold them")
        limit = 2.0 ** (config.field.bits - 2 - config.f)
        if values.size and np.max(np.abs(values)) >= limit:
            raise VeilError(
                f"input '{name}' has |x| up to {np.max(np.abs(values)):.3g}, beyond the fixed-point range "
                f"±{limit:.3g} of {config.field.name} with {config.f} fraction bits; "
                "scale the data or use field='FM128'"
            )
        return fxp_codec.encode_fxp(config.field, values, config.f)
    return ring.from_int64(config.field, arr.astype(np.int64))


def decode(config: RuntimeConfig, a: np.ndarray, dtype: DType, out_dtype: np.dtype) -> np.ndarray:
    """Decode ring elements back to a numpy array of the program's output dtype."""
    if dtype is DType.FXP:
        return fxp_codec.decode_fxp(a, config.f).astype(out_dtype)
    values = ring.to_int64(a)
    if dtype is DType.BOOL:
        return (values != 0).astype(out_dtype)
    return values.astype(out_dtype)
