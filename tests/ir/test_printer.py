"""The text dump: one op per line, regions indented, consts summarized, deterministic."""

from __future__ import annotations

import numpy as np

from veil.ir.printer import format_attr, format_program, format_type
from veil.ir.program import Builder, Program

from .irlib import FXP, INT, PRIV, PUB, T, const, emit1

GOLDEN = """\
program(%0 "x": secret<4x3xfxp>, %1 "w": private@1<3xfxp>) {
  %2 = broadcast_in_dim(%1) {broadcast_dimensions=(1,), shape=(4, 3)} : private@1<4x3xfxp>
  %3 = mul(%0, %2) {trunc_bits=18} : secret<4x3xfxp>
  %4 = const() {value=dense<float64 100x10: min=0.0 max=999.0>} : public<100x10xfxp>
  %5 = const() {value=dense<int64 3: [1, 2, 3]>} : public<3xint>
  %9 = loop(%3) {n_carries=1, trip_count=2} : secret<4x3xfxp>  loc("model.py:7 fori_loop")
    body(%6: public<int>, %7: secret<4x3xfxp>) {
      %8 = add(%7, %7) : secret<4x3xfxp>
      yield %8
    }
  return %9 "y"
}"""


def _program() -> Program:
    b = Builder()
    x = b.param(T((4, 3)), "x")
    w = b.param(T((3,), FXP, PRIV, 1), "w")
    wb = emit1(b, "broadcast_in_dim", [w], T((4, 3), FXP, PRIV, 1), shape=(4, 3), broadcast_dimensions=(1,))
    y = emit1(b, "mul", [x, wb], T((4, 3)), trunc_bits=18)
    const(b, np.arange(1000.0).reshape(100, 10))
    const(b, [1, 2, 3], INT)
    body = b.open_region([T((), INT, PUB), T((4, 3))])
    z = emit1(b, "add", [body.params[1], body.params[1]], T((4, 3)))
    b.close_region([z])
    (out,) = b.emit(
        "loop", [y], [T((4, 3))], {"trip_count": 2, "n_carries": 1}, [body], loc="model.py:7 fori_loop"
    )
    return b.finish([out], ["y"])


def test_golden() -> None:
    p = _program()
    assert format_program(p) == GOLDEN
    assert str(p) == GOLDEN


def test_big_const_is_summarized_not_dumped() -> None:
    text = format_program(_program())
    assert "999.0" in text and "998.0" not in text
    assert len(text) < 2000


def test_locs_can_be_hidden_and_meta_is_shown() -> None:
    p = _program()
    p.meta["truncs_saved"] = 3
    text = format_program(p, show_locs=False)
    assert "loc(" not in text
    assert text.startswith("// meta: {truncs_saved=3}")


def test_formats() -> None:
    assert format_type(T((), INT, PUB)) == "public<int>"
    assert format_type(T((2, 1))) == "secret<2x1xfxp>"
    assert format_attr({"b": [1, (2,)], "a": FXP}) == "{a=fxp, b=[1, (2,)]}"
    assert format_attr(np.array([True, False] * 10)) == "dense<bool 20: 10 true>"
