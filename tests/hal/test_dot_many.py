"""hal.linalg.dot_general_many: mixed requests (secret x secret, secret x public, public x public,
batched dims, no truncation) give dot_general's values; secret x secret products and then
their truncations take the rounds of one product and one truncation (semi2k 2PC)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.hal.runner import config, params, public, run, secret
from veil.hal.linalg import Dot, dot_general, dot_general_many

RNG = np.random.default_rng(11)
A, B, C = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 5)), RNG.normal(size=(3, 5))
BA, BB = RNG.normal(size=(2, 3, 4)), RNG.normal(size=(2, 4, 2))


def _requests(a: Any, b: Any, c: Any, pc: Any, ba: Any, bb: Any) -> list[Dot]:
    return [
        Dot(a, b, ((0,), (0,))),  # a^T b (3x5)
        Dot(b, c, ((1,), (1,))),  # b c^T (4x3)
        Dot(a, pc, ((1,), (0,))),  # secret x public: local product, its own truncation
        Dot(pc, pc, ((0,), (0,))),  # public x public
        Dot(ba, bb, ((2,), (1,)), ((0,), (0,))),  # batched
        Dot(a, c, ((1,), (0,)), trunc_bits=0),  # untruncated
    ]


WANT = [A.T @ B, B @ C.T, A @ C, C.T @ C, BA @ BB, A @ C]


@pytest.mark.parametrize("protocol,field", params(extra=True))
def test_many_matches_plaintext(protocol: str, field: str) -> None:
    cfg = config(protocol, field)
    args = (secret(A), secret(B), secret(C), public(C), secret(BA), secret(BB))
    res = run(cfg, lambda ctx, *v: dot_general_many(ctx, _requests(*v)), *args)
    for i, (got, want) in enumerate(zip(res.outputs, WANT, strict=True)):
        np.testing.assert_allclose(got, want, atol=1e-3, err_msg=f"request {i}")
    assert res.values[0][-1].fxp_bits == 2 * cfg.f  # the untruncated product keeps 2f bits


def test_rounds_of_one_product_and_one_truncation() -> None:
    cfg = config("semi2k", "FM64")
    args = (secret(A), secret(B), secret(C), secret(BA), secret(BB))

    def many(ctx: Any, a: Any, b: Any, c: Any, ba: Any, bb: Any) -> Any:
        return dot_general_many(
            ctx, [Dot(a, b, ((0,), (0,))), Dot(b, c, ((1,), (1,))), Dot(ba, bb, ((2,), (1,)), ((0,), (0,)))]
        )

    def each(ctx: Any, a: Any, b: Any, c: Any, ba: Any, bb: Any) -> Any:
        return [
            dot_general(ctx, a, b, ((0,), (0,))),
            dot_general(ctx, b, c, ((1,), (1,))),
            dot_general(ctx, ba, bb, ((2,), (1,)), ((0,), (0,))),
        ]

    one, seq = run(cfg, many, *args), run(cfg, each, *args)
    for got, want in zip(one.outputs, seq.outputs, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-3)
    assert max(s.rounds for s in seq.stats) == 3 * max(s.rounds for s in one.stats)
