"""The verifier accepts well-formed programs and names the op, loc and problem for each error class."""

from __future__ import annotations

import numpy as np
import pytest

from veil.errors import CompileError
from veil.ir.program import Builder, Op, Program, Region, Value
from veil.ir.verify import verify

from .irlib import BOOL, FXP, INT, PRIV, PUB, SEC, T, const, emit1


def _loop_program(body_result_dtype=FXP, iv_dtype=INT, extra_param: bool = False) -> Program:
    b = Builder()
    x = b.param(T((3,)))
    params = [T((), iv_dtype, PUB), x.type] + ([x.type] if extra_param else [])
    body = b.open_region(params)
    c = body.params[1]
    y = emit1(b, "add", [c, c], T((3,), body_result_dtype))
    b.close_region([y])
    (out,) = b.emit("loop", [x], [x.type], {"trip_count": 2, "n_carries": 1}, [body], loc="f.py:3")
    return b.finish([out])


def _good_program() -> Program:
    """Every structural feature: consts, a loop, a while and a cond with two branches."""
    b = Builder()
    x = b.param(T((2, 3)), "x")
    w = b.param(T((3,), FXP, PUB), "w")
    wb = emit1(b, "broadcast_in_dim", [w], T((2, 3), FXP, PUB), shape=(2, 3), broadcast_dimensions=(1,))
    y = emit1(b, "mul", [x, wb], T((2, 3)))
    s = emit1(b, "reduce_sum", [y], T((2,)), axes=(1,))
    body = b.open_region([T((), INT, PUB), T((2,)), T((2,))])
    _, c, k = body.params
    b.close_region([emit1(b, "add", [c, k], T((2,)))])
    (acc,) = b.emit("loop", [s, s], [T((2,))], {"trip_count": 3, "n_carries": 1}, [body])
    i0 = const(b, 0, INT)
    cond = b.open_region([T((), INT, PUB)])
    lim = const(b, 4, INT)
    b.close_region([emit1(b, "lt", [cond.params[0], lim], T((), BOOL, PUB))])
    wbody = b.open_region([T((), INT, PUB)])
    one = const(b, 1, INT)
    b.close_region([emit1(b, "add", [wbody.params[0], one], T((), INT, PUB))])
    (n,) = b.emit("while", [i0], [T((), INT, PUB)], {"n_carries": 1}, [cond, wbody])
    branches = []
    for k in range(2):
        r = b.open_region([T((2,))])
        b.close_region([emit1(b, "neg", [r.params[0]], T((2,)))] if k else [r.params[0]])
        branches.append(r)
    (z,) = b.emit("cond", [n, acc], [T((2,))], {}, branches)
    return b.finish([z])


def test_good_program_passes() -> None:
    verify(_good_program())
    verify(_loop_program())


def test_unknown_op_is_named_with_its_loc() -> None:
    b = Builder()
    x = b.param(T((3,)))
    b.emit("frobnicate", [x], [x.type], loc="model.py:12 frob")
    p = b.finish([])
    with pytest.raises(CompileError, match=r"'frobnicate'.*model.py:12 frob.*no such IR op"):
        verify(p)


@pytest.mark.parametrize(
    "opcode, n_inputs, attrs, match",
    [
        ("add", 1, {}, "takes 2 inputs, got 1"),
        ("exp", 2, {}, "takes 1 inputs, got 2"),
        ("reduce_sum", 1, {}, "missing attribute.*axes"),
        ("select_n", 1, {}, "at least 2 inputs"),
        ("trunc", 1, {"bits": -1}, "bits=-1"),
        ("mul", 2, {"trunc_bits": "18"}, "trunc_bits"),
    ],
)
def test_arity_and_attrs(opcode: str, n_inputs: int, attrs: dict, match: str) -> None:
    b = Builder()
    x = b.param(T((3,)))
    b.emit(opcode, [x] * n_inputs, [x.type], attrs)
    with pytest.raises(CompileError, match=match):
        verify(b.finish([]))


def test_mul_without_trunc_bits_is_fine_before_fixed_point() -> None:
    b = Builder()
    x = b.param(T((3,)))
    verify(b.finish([emit1(b, "mul", [x, x], x.type)]))


def test_value_defined_twice() -> None:
    b = Builder()
    x = b.param(T((3,)))
    y = emit1(b, "neg", [x], x.type)
    b.current.ops.append(Op("neg", [x], [y]))
    with pytest.raises(CompileError, match=f"%{y.id} is defined twice"):
        verify(b.finish([y]))


def test_use_before_definition() -> None:
    b = Builder()
    x = b.param(T((3,)))
    later = b.value(x.type)
    emit1(b, "add", [x, later], x.type)
    b.current.ops.append(Op("neg", [x], [later]))
    with pytest.raises(CompileError, match=f"uses %{later.id} before it is defined"):
        verify(b.finish([later]))


def test_region_capture_is_rejected() -> None:
    b = Builder()
    x = b.param(T((3,)))
    body = b.open_region([T((), INT, PUB), x.type])
    y = emit1(b, "add", [body.params[1], x], x.type)  # x comes from outside: not allowed
    b.close_region([y])
    (out,) = b.emit("loop", [x], [x.type], {"trip_count": 1, "n_carries": 1}, [body])
    with pytest.raises(CompileError, match=f"uses %{x.id}, defined in another region.*closed"):
        verify(b.finish([out]))


def test_result_from_nested_region_is_rejected() -> None:
    b = Builder()
    x = b.param(T((3,)))
    body = b.open_region([T((), INT, PUB), x.type])
    y = emit1(b, "neg", [body.params[1]], x.type)
    b.close_region([y])
    b.emit("loop", [x], [x.type], {"trip_count": 1, "n_carries": 1}, [body])
    with pytest.raises(CompileError, match="defined in another region"):
        verify(b.finish([y]))


def test_loop_signature_errors() -> None:
    with pytest.raises(CompileError, match="body results"):
        verify(_loop_program(body_result_dtype=INT))
    with pytest.raises(CompileError, match="induction variable"):
        verify(_loop_program(iv_dtype=FXP))
    with pytest.raises(CompileError, match=r"loop.*f.py:3.*body params.*2 values, want 1"):
        verify(_loop_program(extra_param=True))


def test_while_cond_must_return_a_bool_scalar() -> None:
    b = Builder()
    i = b.param(T((), INT, PUB))
    cond = b.open_region([i.type])
    b.close_region([emit1(b, "add", [cond.params[0], cond.params[0]], i.type)])
    body = b.open_region([i.type])
    b.close_region([body.params[0]])
    (out,) = b.emit("while", [i], [i.type], {"n_carries": 1}, [cond, body])
    with pytest.raises(CompileError, match="cond results.*want shape \\(\\) dtype bool"):
        verify(b.finish([out]))


def test_cond_branch_results_must_match_outputs() -> None:
    b = Builder()
    p = b.param(T((), BOOL, PUB))
    x = b.param(T((3,)))
    r0 = b.open_region([x.type])
    b.close_region([r0.params[0]])
    r1 = b.open_region([x.type])
    b.close_region([emit1(b, "reduce_sum", [r1.params[0]], T(()), axes=(0,))])
    (out,) = b.emit("cond", [p, x], [x.type], {}, [r0, r1])
    with pytest.raises(CompileError, match="branch 1 results"):
        verify(b.finish([out]))


def test_elementwise_shapes_must_match() -> None:
    b = Builder()
    x = b.param(T((3,)))
    y = b.param(T((1,)))
    emit1(b, "add", [x, y], x.type)
    with pytest.raises(CompileError, match="operand shapes differ"):
        verify(b.finish([]))


@pytest.mark.parametrize(
    "opcode, in_shape, out_type, attrs, match",
    [
        ("reshape", (2, 3), T((4,)), {"new_sizes": (4,)}, "cannot reshape"),
        ("lt", (3,), T((3,)), {}, "comparison yields bool"),
        ("transpose", (2, 3), T((2, 3)), {"permutation": (1, 0)}, "expected \\(3, 2\\)"),
        ("reduce_sum", (2, 3), T((2,)), {"axes": (0,)}, "expected \\(3,\\)"),
        ("convert", (3,), T((3,), INT), {"dtype": FXP}, "must be the DType"),
        (
            "broadcast_in_dim",
            (3,),
            T((2, 4)),
            {"shape": (2, 4), "broadcast_dimensions": (1,)},
            "cannot broadcast",
        ),
    ],
)
def test_shape_rules(opcode: str, in_shape: tuple, out_type, attrs: dict, match: str) -> None:
    b = Builder()
    x = b.param(T(in_shape))
    ins = [x, x] if opcode == "lt" else [x]
    b.emit(opcode, ins, [out_type], attrs)
    with pytest.raises(CompileError, match=match):
        verify(b.finish([]))


def test_dot_general_shapes() -> None:
    b = Builder()
    x = b.param(T((2, 3)))
    y = b.param(T((4, 5)))
    b.emit("dot_general", [x, y], [T((2, 5))], {"contracting": ((1,), (0,)), "batch": ((), ())})
    with pytest.raises(CompileError, match="lhs dim 1 \\(3\\) != rhs dim 0 \\(4\\)"):
        verify(b.finish([]))


def test_const_value_must_match_shape() -> None:
    b = Builder()
    b.emit("const", [], [T((3,), FXP, PUB)], {"value": np.zeros(4)})
    with pytest.raises(CompileError, match="output shape \\(3,\\), expected \\(4,\\)"):
        verify(b.finish([]))


def test_visibility_owner_well_formed() -> None:
    for bad in (T((3,), FXP, PRIV, None), T((3,), FXP, SEC).__class__((3,), FXP, PUB, 1)):
        p = Program(Region([Value(0, bad)]), ["x"], [], next_id=1)
        with pytest.raises(CompileError, match="owner must be set exactly for private"):
            verify(p)
    verify(Program(Region([Value(0, T((3,), FXP, PRIV, 2))]), ["x"], [], next_id=1))


def test_names_and_id_range() -> None:
    p = Program(Region([Value(0, T((3,)))]), [], [], next_id=1)
    with pytest.raises(CompileError, match="0 input names for 1 program inputs"):
        verify(p)
    p = Program(Region([Value(5, T((3,)))]), ["x"], [], next_id=1)
    with pytest.raises(CompileError, match="outside the program's id range"):
        verify(p)


def test_flow_check_catches_a_leak() -> None:
    b = Builder()
    x = b.param(T((3,), FXP, SEC))
    y = emit1(b, "neg", [x], T((3,), FXP, PUB))  # public result of secret data: a leak
    p = b.finish([y])
    verify(p)  # structure is fine
    with pytest.raises(CompileError, match="output is public<3xfxp> but its inputs join to secret"):
        verify(p, check_flow=True)


def test_flow_check_wants_public_indices_and_predicates() -> None:
    b = Builder()
    x = b.param(T((4,), FXP, PUB))
    i = b.param(T((), INT, SEC))
    y = emit1(b, "dynamic_slice", [x, i], T((2,), FXP, SEC), slice_sizes=(2,))
    p = b.finish([y])
    verify(p)
    with pytest.raises(CompileError, match="indices must be public"):
        verify(p, check_flow=True)
    b = Builder()
    s = b.param(T((), BOOL, SEC))
    x = b.param(T((3,)))
    branches = []
    for _ in range(2):
        r = b.open_region([x.type])
        b.close_region([r.params[0]])
        branches.append(r)
    (out,) = b.emit("cond", [s, x], [x.type], {}, branches)
    with pytest.raises(CompileError, match="run the secret_control pass"):
        verify(b.finish([out]), check_flow=True)


def test_not_a_program() -> None:
    with pytest.raises(CompileError, match="expected a Program"):
        verify("nope")  # type: ignore[arg-type]
