"""The VM on hand-built IR programs: values, control flow (not unrolled), frees, errors, stats hook."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest

from tests.hal.runner import INT, config, params, public, run, secret, ulp
from veil.dtypes import DType, Visibility
from veil.errors import CompileError, UnsupportedOpError
from veil.ir.program import Builder, Program
from veil.ir.types import TensorType
from veil.vm.interpreter import Machine, plan_region, run_program

S, P = Visibility.SECRET, Visibility.PUBLIC


def fxp(shape: tuple[int, ...], vis: Visibility = S) -> TensorType:
    return TensorType(shape, DType.FXP, vis)


def ity(shape: tuple[int, ...] = (), vis: Visibility = P) -> TensorType:
    return TensorType(shape, DType.INT, vis)


def bty(shape: tuple[int, ...] = (), vis: Visibility = P) -> TensorType:
    return TensorType(shape, DType.BOOL, vis)


def machine_run(prog: Program) -> Any:
    """fn for runner.run: execute on a Machine, return outputs and (ops executed, max env size)."""

    def fn(ctx: Any, *vals: Any) -> Any:
        m = Machine(ctx)
        outs = m.run_region(prog.body, list(vals), top=True)
        return outs, (m.ops_executed, m.max_env)

    return fn


def _affine_loop(n: int) -> Program:
    """c <- c * 0.5 + iv (iv converted to fxp), n times, as one `loop` op."""
    b = Builder()
    x = b.param(fxp((4,)))
    body = b.open_region([ity(), fxp((4,)), fxp((), P)])
    iv, c, half = body.params
    (ivf,) = b.emit("convert", [iv], [fxp((), P)], {"dtype": DType.FXP})
    (hb,) = b.emit("broadcast_in_dim", [half], [fxp((4,), P)], {"shape": (4,), "broadcast_dimensions": ()})
    (m,) = b.emit("mul", [c, hb], [fxp((4,))])
    (ib,) = b.emit("broadcast_in_dim", [ivf], [fxp((4,), P)], {"shape": (4,), "broadcast_dimensions": ()})
    (nc,) = b.emit("add", [m, ib], [fxp((4,))])
    b.close_region([nc])
    (half_c,) = b.emit("const", [], [fxp((), P)], {"value": np.array(0.5)})
    (out,) = b.emit("loop", [x, half_c], [fxp((4,))], {"trip_count": n, "n_carries": 1}, regions=[body])
    return b.finish([out])


@pytest.mark.parametrize("proto,field", params(extra=True))
def test_loop_runs_without_unrolling(proto: str, field: str) -> None:
    n = 40
    x = np.array([1.0, -2.0, 0.5, 3.0])
    r = run(config(proto, field), machine_run(_affine_loop(n)), secret(x))
    want = x.copy()
    for i in range(n):
        want = want * 0.5 + i
    np.testing.assert_allclose(r.outputs[0], want, atol=1e-3)
    ops, max_env = r.extra[0]
    assert ops == 2 + 5 * n  # const + loop, then 5 body ops per trip: executed, not unrolled
    assert max_env <= 5  # frees at last use keep the environment bounded


def test_env_stays_bounded_in_long_loop() -> None:
    r = run(config("ref2k", world=1), machine_run(_affine_loop(300)), secret(np.zeros(4)))
    ops, max_env = r.extra[0]
    assert ops == 2 + 5 * 300 and max_env <= 5


def test_plan_frees_after_last_use() -> None:
    b = Builder()
    x = b.param(fxp((2,)))
    unused = b.param(fxp((2,)))
    (y,) = b.emit("neg", [x], [fxp((2,))])
    (z,) = b.emit("add", [y, y], [fxp((2,))])
    (dead,) = b.emit("neg", [z], [fxp((2,))])
    prog = b.finish([z])
    plan = plan_region(prog.body)
    assert plan.dead_at_entry == [unused.id]
    assert plan.dead_after[0] == [x.id] and plan.dead_after[1] == [y.id]
    assert plan.dead_after[2] == [dead.id]  # unused output dropped at once; z is a result


def _while_program() -> Program:
    b = Builder()
    x = b.param(fxp((3,)))
    (i0,) = b.emit("const", [], [ity()], {"value": np.array(0)})
    cond = b.open_region([ity(), fxp((3,))])
    (five,) = b.emit("const", [], [ity()], {"value": np.array(5)})
    (pred,) = b.emit("lt", [cond.params[0], five], [bty()])
    b.close_region([pred])
    body = b.open_region([ity(), fxp((3,))])
    (one,) = b.emit("const", [], [ity()], {"value": np.array(1)})
    (i1,) = b.emit("add", [body.params[0], one], [ity()])
    (k,) = b.emit("const", [], [fxp((3,), P)], {"value": np.full(3, 0.9)})
    (x1,) = b.emit("mul", [body.params[1], k], [fxp((3,))])
    b.close_region([i1, x1])
    outs = b.emit("while", [i0, x], [ity(), fxp((3,))], {"n_carries": 2}, regions=[cond, body])
    return b.finish(outs)


@pytest.mark.parametrize("proto,field", params())
def test_while_public_predicate(proto: str, field: str) -> None:
    x = np.array([1.0, -2.0, 4.0])
    r = run(config(proto, field), lambda ctx, v: run_program(_while_program(), [v], ctx), secret(x))
    assert r.outputs[0] == 5
    np.testing.assert_allclose(r.outputs[1], x * 0.9**5, atol=1e-4)


def test_while_secret_predicate_is_compile_error() -> None:
    b = Builder()
    x = b.param(fxp(()))
    cond = b.open_region([fxp(())])
    (zero,) = b.emit("const", [], [fxp((), P)], {"value": np.array(0.0)})
    (pred,) = b.emit("lt", [cond.params[0], zero], [bty((), S)])
    b.close_region([pred])
    body = b.open_region([fxp(())])
    b.close_region([body.params[0]])
    (out,) = b.emit("while", [x], [fxp(())], {"n_carries": 1}, regions=[cond, body], loc="f.py:3")
    prog = b.finish([out])
    with pytest.raises(CompileError, match="loop predicate is secret.*public"):
        run(config("ref2k", world=1), lambda ctx, v: run_program(prog, [v], ctx), secret(np.float64(1.0)))


def _cond_program(index_vis: Visibility) -> Program:
    b = Builder()
    p = b.param(ity((), index_vis))
    x = b.param(fxp((3,)))
    br0 = b.open_region([fxp((3,))])
    (y0,) = b.emit("neg", [br0.params[0]], [fxp((3,))])
    b.close_region([y0])
    br1 = b.open_region([fxp((3,))])
    (two,) = b.emit("const", [], [fxp((3,), P)], {"value": np.full(3, 2.0)})
    (y1,) = b.emit("mul", [br1.params[0], two], [fxp((3,))])
    b.close_region([y1])
    (out,) = b.emit("cond", [p, x], [fxp((3,))], regions=[br0, br1])
    return b.finish([out])


@pytest.mark.parametrize("proto,field", params())
def test_cond_public_index(proto: str, field: str) -> None:
    cfg = config(proto, field)
    x = np.array([1.0, -2.0, 0.25])
    for idx, want in [(0, -x), (1, 2 * x), (7, 2 * x), (-3, -x)]:  # clamped like lax.switch
        r = run(
            cfg,
            lambda ctx, i, v: run_program(_cond_program(P), [i, v], ctx),
            public(np.int64(idx), INT),
            secret(x),
        )
        np.testing.assert_allclose(r.outputs[0], want, atol=2 * ulp(cfg))


def test_cond_secret_index_is_clear_error() -> None:
    with pytest.raises(CompileError, match="branch index is secret.*select"):
        run(
            config("ref2k", world=1),
            lambda ctx, i, v: run_program(_cond_program(S), [i, v], ctx),
            secret(np.int64(1), INT),
            secret(np.ones(3)),
        )


def test_unsupported_opcode() -> None:
    b = Builder()
    x = b.param(fxp((2,)))
    (y,) = b.emit("frobnicate", [x], [fxp((2,))], loc="model.py:12 (frobnicate_p)")
    prog = b.finish([y])
    with pytest.raises(UnsupportedOpError, match="frobnicate.*model.py:12"):
        run(config("ref2k", world=1), lambda ctx, v: run_program(prog, [v], ctx), secret(np.ones(2)))


@pytest.mark.parametrize("proto,field", params())
def test_on_op_stats_hook_and_public_to_secret(proto: str, field: str) -> None:
    b = Builder()
    x = b.param(fxp((5,)))
    (c,) = b.emit("const", [], [fxp((5,), S)], {"value": np.arange(5.0)})  # declared secret: shared
    (y,) = b.emit("mul", [x, c], [fxp((5,))])
    (z,) = b.emit("add", [y, x], [fxp((5,))])
    prog = b.finish([z])
    x0 = np.linspace(-1, 1, 5)

    def fn(ctx: Any, v: Any) -> Any:
        seen: list[tuple[str, float, Any]] = []
        outs = run_program(prog, [v], ctx, on_op=lambda op, secs, d: seen.append((op.opcode, secs, d)))
        return outs, seen

    r = run(config(proto, field), fn, secret(x0))
    np.testing.assert_allclose(r.outputs[0], x0 * np.arange(5.0) + x0, atol=4e-5)
    seen = r.extra[0]
    assert [s[0] for s in seen] == ["const", "mul", "add"]
    assert seen[0][2].online.bytes_sent == 0 and seen[2][2].online.bytes_sent == 0
    if proto == "semi2k":
        assert seen[1][2].online.bytes_sent > 0 and seen[1][2].rounds >= 1


def test_wrong_input_shape() -> None:
    from veil.errors import VeilError

    prog = _affine_loop(1)
    with pytest.raises(VeilError, match="shape"):
        run(config("ref2k", world=1), lambda ctx, v: run_program(prog, [v], ctx), secret(np.ones(3)))


@pytest.mark.parametrize("proto,field", params())
def test_fused_truncation_attrs(proto: str, field: str) -> None:
    """mul with trunc_bits=0 keeps 2f fraction bits; a later `trunc` op brings it back to f."""
    cfg = config(proto, field)
    b = Builder()
    x = b.param(fxp((4,)))
    y = b.param(fxp((4,)))
    (m,) = b.emit("mul", [x, y], [fxp((4,))], {"trunc_bits": 0})
    (s,) = b.emit("add", [m, m], [fxp((4,))])
    (t,) = b.emit("trunc", [s], [fxp((4,))], {"bits": cfg.f})
    prog = b.finish([t, m])
    a, c = np.array([1.5, -2.0, 0.3, 2.2]), np.array([0.5, 1.25, -3.0, 2.0])
    r = run(cfg, lambda ctx, u, v: run_program(prog, [u, v], ctx), secret(a), secret(c))
    np.testing.assert_allclose(r.outputs[0], 2 * a * c, atol=4 * ulp(cfg))
    assert r.values[0][0].fxp_bits == cfg.f and r.values[0][1].fxp_bits == 2 * cfg.f


@pytest.mark.parametrize("proto,field", params(extra=True))
def test_const_in_loop_encoded_once(proto: str, field: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A const inside a loop body is encoded once per party and run; its payload is read-only
    (shared by every trip), and the loop still computes c <- c * 0.25 + 1."""
    from veil.vm.handlers import elementwise as E

    calls: list[int] = []
    real = E.F.constant

    def counting(*a: Any, **k: Any) -> Any:
        if sys._getframe(1).f_code is E._const.__code__:  # other HAL ops encode constants too
            calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(E.F, "constant", counting)
    n = 12
    b = Builder()
    x = b.param(fxp((3,)))
    body = b.open_region([ity(), fxp((3,))])
    _, c = body.params
    (q,) = b.emit("const", [], [fxp((3,), P)], {"value": np.full(3, 0.25)})
    (one,) = b.emit("const", [], [fxp((3,), P)], {"value": np.ones(3)})
    (m,) = b.emit("mul", [c, q], [fxp((3,))])
    (nc,) = b.emit("add", [m, one], [fxp((3,))])
    b.close_region([nc])
    (out,) = b.emit("loop", [x], [fxp((3,))], {"trip_count": n, "n_carries": 1}, regions=[body])
    prog = b.finish([out])
    cfg = config(proto, field)
    x0 = np.array([1.0, -2.0, 4.0])
    r = run(cfg, machine_run(prog), secret(x0))
    want = x0.copy()
    for _ in range(n):
        want = want * 0.25 + 1
    np.testing.assert_allclose(r.outputs[0], want, atol=1e-3)
    assert len(calls) == 2 * cfg.world_size  # two consts, once per party (not once per trip)
