"""Serialization: exact round trips (tuples stay tuples, arrays keep dtype), canonical hashes,
and CompileError on unknown versions or malformed bytes."""

from __future__ import annotations

import msgpack
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from veil.errors import CompileError
from veil.ir.program import Builder, Op, Program
from veil.ir.serialize import dumps, first_difference, loads, program_hash, programs_equal

from .irlib import BOOL, FXP, INT, PRIV, PUB, T, const, emit1, random_programs


def _nested_program() -> Program:
    """A loop whose body holds a cond whose branch holds a loop, plus consts of every dtype."""
    b = Builder()
    x = b.param(T((2, 2)), "x")
    p = b.param(T((), BOOL, PRIV, 1), "flag")
    consts = [
        const(b, np.array([[1.5, -2.25], [np.nan, np.inf]]), FXP),
        const(b, np.array([[-(2**40), 7], [0, 1]]), INT),
        const(b, np.array([[True, False], [False, True]]), BOOL),
        const(b, 3.0),
    ]
    body = b.open_region([T((), INT, PUB), x.type, p.type])
    _, c, flag = body.params
    branches = []
    for k in range(2):
        r = b.open_region([c.type])
        inner = b.open_region([T((), INT, PUB), c.type])
        y = emit1(b, "mul" if k else "add", [inner.params[1], inner.params[1]], c.type, trunc_bits=18 * k)
        b.close_region([y])
        (z,) = b.emit(
            "loop", [r.params[0]], [c.type], {"trip_count": 2, "n_carries": 1}, [inner], loc="in.py:1"
        )
        b.close_region([z])
        branches.append(r)
    (out,) = b.emit("cond", [flag, c], [c.type], {}, branches, loc="m.py:9 cond")
    b.close_region([out])
    (res,) = b.emit("loop", [x, p], [x.type], {"trip_count": 3, "n_carries": 1}, [body])
    s = emit1(b, "add", [res, consts[0]], x.type)
    g = emit1(
        b,
        "gather",
        [s, const(b, [[0], [1]], INT)],
        T((2, 2)),
        dimension_numbers={
            "offset_dims": (1,),
            "collapsed_slice_dims": (0,),
            "start_index_map": (0,),
            "operand_batching_dims": (),
            "start_indices_batching_dims": (),
        },
        slice_sizes=(1, 2),
        mode="clip",
        fill_value=None,
    )
    cv = emit1(b, "convert", [g], T((2, 2), INT), dtype=INT)
    b.current.ops[-1].attrs["note"] = [1, (2, 3), {"k": 2**70}, np.float32(0.5), b"raw", -0.0]
    prog = b.finish([cv, g], ["a", "b"])
    prog.meta.update({"fxp_bits": 18, "shapes": [(2, 2)], "source": "test"})
    return prog


def test_round_trip_nested_program() -> None:
    p = _nested_program()
    q = loads(dumps(p))
    assert first_difference(p, q) is None
    assert programs_equal(p, q)
    assert dumps(q) == dumps(p)
    note = q.body.ops[-1].attrs["note"]
    assert type(note) is list and type(note[1]) is tuple and note[2]["k"] == 2**70
    assert type(note[3]) is np.float32 and note[3] == 0.5
    assert q.meta["shapes"] == [(2, 2)] and type(q.meta["shapes"][0]) is tuple
    arrays = [op.attrs["value"] for op in q.walk() if op.opcode == "const"]
    assert [a.dtype for a in arrays[:3]] == [np.float64, np.int64, np.bool_]
    assert arrays[3].shape == () and arrays[1][0, 0] == -(2**40)
    assert np.isnan(arrays[0][1, 0]) and arrays[0].flags.writeable
    gather = next(op for op in q.walk() if op.opcode == "gather")
    assert gather.attrs["dimension_numbers"]["offset_dims"] == (1,)
    # uses are the very objects that define the values (passes mutate types in place)
    assert q.body.ops[-1].inputs[0] is gather.outputs[0]


def test_equality_sees_tuple_vs_list_and_array_dtype() -> None:
    p, q = _nested_program(), _nested_program()
    assert programs_equal(p, q)
    q.body.ops[-1].attrs["note"][1] = [2, 3]
    assert "tuple vs list" in (first_difference(p, q) or "")
    q = _nested_program()
    op = next(o for o in q.walk() if o.opcode == "const")
    op.attrs["value"] = op.attrs["value"].astype(np.float32)
    assert not programs_equal(p, q)


def test_hash_is_stable_and_sensitive() -> None:
    p = _nested_program()
    assert program_hash(p) == program_hash(_nested_program()) == program_hash(loads(dumps(p)))
    assert len(program_hash(p)) == 64
    q = _nested_program()
    q.body.ops[-1].attrs["note"][0] = 2
    assert program_hash(q) != program_hash(p)
    # attribute insertion order does not matter (keys are sorted)
    r = _nested_program()
    r.body.ops[-1].attrs = dict(reversed(list(r.body.ops[-1].attrs.items())))
    assert program_hash(r) == program_hash(p)


def _doc(p: Program) -> dict:
    return msgpack.unpackb(dumps(p), raw=False, ext_hook=lambda c, d: msgpack.ExtType(c, d))


def _pack(doc: dict) -> bytes:
    return msgpack.packb(doc, use_bin_type=True)


def test_rejects_unknown_version_and_format() -> None:
    doc = _doc(_nested_program())
    with pytest.raises(CompileError, match="version 2 is not supported"):
        loads(_pack({**doc, "version": 2}))
    with pytest.raises(CompileError, match="not a veil IR program"):
        loads(_pack({**doc, "format": "onnx"}))


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00\x01garbage", b"\x93\x01\x02"],
)
def test_rejects_garbage(data: bytes) -> None:
    with pytest.raises(CompileError):
        loads(data)


def test_rejects_truncated_and_tampered_data() -> None:
    raw = dumps(_nested_program())
    with pytest.raises(CompileError, match="malformed"):
        loads(raw[: len(raw) // 2])
    doc = _doc(_nested_program())
    doc["body"]["results"] = [999]
    with pytest.raises(CompileError, match="undefined value 999"):
        loads(_pack(doc))
    doc = _doc(_nested_program())
    doc["body"]["ops"][0]["op"] = "launch_missiles"
    with pytest.raises(CompileError, match="no such IR op"):
        loads(_pack(doc))
    loads(_pack(doc), check=False)  # structure alone still parses


def test_rejects_object_arrays_both_ways() -> None:
    b = Builder()
    b.param(T((2,)))
    out = b.value(T((2,), FXP, PUB))
    b.current.ops.append(Op("const", [], [out], {"value": np.array([1, None], dtype=object)}))
    with pytest.raises(CompileError, match="dtype object"):
        dumps(b.finish([]))
    spec = msgpack.packb(["|O", [1], b"\x00" * 8], use_bin_type=True)
    doc = _doc(_nested_program())
    doc["meta"]["evil"] = msgpack.ExtType(2, spec)
    with pytest.raises(CompileError, match="not allowed"):
        loads(_pack(doc))


def test_rejects_unserializable_attrs_with_op_name() -> None:
    b = Builder()
    x = b.param(T((2,)))
    emit1(b, "reduce_sum", [x], T(()), axes=(0,), callback=print)
    with pytest.raises(CompileError, match="op 'reduce_sum'.*builtin_function_or_method"):
        dumps(b.finish([]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_programs())
def test_round_trip_random_programs(p: Program) -> None:
    q = loads(dumps(p))
    assert first_difference(p, q) is None
    assert program_hash(q) == program_hash(p)
