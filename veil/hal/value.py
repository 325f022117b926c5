"""HAL runtime values: the payload one party holds, with its static type.

Payload invariant (every layer above mpc relies on it): a numpy array whose shape is the
logical shape. Its dtype is the protocol's share dtype for SECRET values (uint64 on FM64,
a structured (lo, hi) uint64 pair on FM128, pairs of those for aby3's replicated shares), the
ring dtype for PUBLIC values, and for PRIVATE values the ring dtype at the owner and None
elsewhere. Shape ops (reshape, transpose, slicing, concatenation, broadcasting, indexing) are
therefore plain numpy on the payload, whatever the protocol.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from veil.dtypes import DType, Visibility


@dataclass
class Value:
    shape: tuple[int, ...]
    dtype: DType
    vis: Visibility
    fxp_bits: int  # fraction bits of the encoding (0 for INT and BOOL)
    payload: np.ndarray | None
    owner: int | None = None  # set for PRIVATE

    @property
    def is_public(self) -> bool:
        return self.vis is Visibility.PUBLIC

    @property
    def is_secret(self) -> bool:
        return self.vis is Visibility.SECRET

    @property
    def size(self) -> int:
        return int(math.prod(self.shape))  # np.prod costs ~5 us a call (hot: every HAL op)
