"""Programs <-> bytes: a versioned msgpack schema (never pickle), plus a hash and an equality.

Schema (version 1): a map {"format": "veil-ir", "version": 1, "next_id", "input_names",
"output_names", "meta", "body"}. A region is {"params": [value], "ops": [op], "results": [id]};
a value is [id, shape, dtype, vis, owner]; an op is {"op", "in": [id], "out": [value],
"attrs", "regions", "loc"}. Attribute values are plain msgpack data plus extension types for
tuples (so tuple vs list survives), numpy arrays and scalars ({dtype str, shape, raw bytes}),
DType/Visibility enums (by value) and ints beyond 64 bits. Map keys are sorted, so `dumps` is
canonical and `program_hash` lets parties check that they compiled the same program.
"""

from __future__ import annotations

import hashlib
from enum import Enum
from typing import Any

import msgpack
import numpy as np

from veil.errors import CompileError
from veil.ir.program import Op, Program, Region, Value
from veil.ir.types import DType, TensorType, Visibility

__all__ = ["FORMAT", "VERSION", "dumps", "first_difference", "loads", "program_hash", "programs_equal"]

FORMAT = "veil-ir"
VERSION = 1

_EXT_TUPLE, _EXT_ARRAY, _EXT_SCALAR, _EXT_DTYPE, _EXT_VIS, _EXT_BIGINT = 1, 2, 3, 4, 5, 6
_ARRAY_KINDS = "biuf"  # bool, signed, unsigned, float: nothing that could hold objects


class _Malformed(Exception):
    """Internal: raised while decoding; turned into CompileError at the API boundary."""


# ---------------------------------------------------------------- encoding


def _pack(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def _enc(x: Any) -> Any:
    """An attribute/meta value as msgpack data (extension types for what msgpack lacks)."""
    if x is None or isinstance(x, bool | str | float | bytes):
        return x
    if isinstance(x, int) and not isinstance(x, Enum):
        return x if -(2**63) <= x < 2**64 else msgpack.ExtType(_EXT_BIGINT, str(x).encode())
    if isinstance(x, np.ndarray | np.generic):
        arr = np.asarray(x)
        if arr.dtype.kind not in _ARRAY_KINDS:
            raise CompileError(f"cannot serialize a numpy array of dtype {arr.dtype}: use bool/int/float")
        code = _EXT_ARRAY if isinstance(x, np.ndarray) else _EXT_SCALAR
        return msgpack.ExtType(code, _pack([arr.dtype.str, list(arr.shape), arr.tobytes()]))
    if isinstance(x, DType):
        return msgpack.ExtType(_EXT_DTYPE, x.value.encode())
    if isinstance(x, Visibility):
        return msgpack.ExtType(_EXT_VIS, x.value.encode())
    if isinstance(x, tuple):
        return msgpack.ExtType(_EXT_TUPLE, _pack([_enc(v) for v in x]))
    if isinstance(x, list):
        return [_enc(v) for v in x]
    if isinstance(x, dict):
        if not all(isinstance(k, str) for k in x):
            raise CompileError(f"cannot serialize a dict with non-string keys: {list(x)!r}")
        return {k: _enc(x[k]) for k in sorted(x)}
    raise CompileError(
        f"cannot serialize a value of type {type(x).__name__} ({x!r}): IR attributes and meta must be "
        "plain data (None, bool, int, float, str, bytes, tuple, list, dict, numpy arrays, DType)"
    )


def _enc_value(v: Value) -> list[Any]:
    t = v.type
    return [v.id, list(t.shape), t.dtype.value, t.vis.value, t.owner]


def _enc_region(r: Region) -> dict[str, Any]:
    return {
        "params": [_enc_value(v) for v in r.params],
        "ops": [_enc_op(op) for op in r.ops],
        "results": [v.id for v in r.results],
    }


def _enc_op(op: Op) -> dict[str, Any]:
    try:
        attrs = _enc(dict(op.attrs))
    except CompileError as e:
        raise CompileError(f"op '{op.opcode}' at {op.loc or '<unknown loc>'}: {e}") from None
    return {
        "op": op.opcode,
        "in": [v.id for v in op.inputs],
        "out": [_enc_value(v) for v in op.outputs],
        "attrs": attrs,
        "regions": [_enc_region(r) for r in op.regions],
        "loc": op.loc,
    }


def dumps(program: Program) -> bytes:
    """Serialize `program` (canonical bytes: equal programs give equal bytes)."""
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "next_id": program.next_id,
        "input_names": list(program.input_names),
        "output_names": list(program.output_names),
        "meta": _enc(dict(program.meta)),
        "body": _enc_region(program.body),
    }
    return _pack(doc)


def program_hash(program: Program) -> str:
    """SHA-256 (hex) of `dumps(program)`: parties compare it to check they run the same program."""
    return hashlib.sha256(dumps(program)).hexdigest()


# ---------------------------------------------------------------- decoding


def _unpack(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False, ext_hook=_ext_hook, strict_map_key=True)


def _ext_hook(code: int, data: bytes) -> Any:
    if code == _EXT_TUPLE:
        items = _unpack(data)
        _expect(isinstance(items, list), "tuple payload is not a list")
        return tuple(items)
    if code in (_EXT_ARRAY, _EXT_SCALAR):
        return _dec_array(_unpack(data), scalar=code == _EXT_SCALAR)
    if code == _EXT_DTYPE:
        return DType(data.decode())
    if code == _EXT_VIS:
        return Visibility(data.decode())
    if code == _EXT_BIGINT:
        return int(data.decode())
    raise _Malformed(f"unknown extension type {code}")


def _dec_array(spec: Any, scalar: bool) -> np.ndarray | np.generic:
    _expect(isinstance(spec, list) and len(spec) == 3, "array spec must be [dtype, shape, bytes]")
    dtype_str, shape, raw = spec
    _expect(isinstance(dtype_str, str) and isinstance(raw, bytes), "bad array dtype or payload")
    dtype = np.dtype(dtype_str)
    _expect(dtype.kind in _ARRAY_KINDS and dtype.fields is None, f"array dtype {dtype_str} not allowed")
    shape = _dec_shape(shape)
    _expect(len(raw) == int(np.prod(shape, dtype=np.int64)) * dtype.itemsize, "array byte count mismatch")
    arr = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    if scalar:
        _expect(arr.shape == (), "numpy scalar with a shape")
        return arr[()]
    return arr


def _dec_shape(shape: Any) -> tuple[int, ...]:
    _expect(isinstance(shape, list) and all(type(d) is int and d >= 0 for d in shape), f"bad shape {shape!r}")
    return tuple(shape)


def _expect(ok: bool, problem: str) -> None:
    if not ok:
        raise _Malformed(problem)


def _field(doc: Any, key: str, typ: type | tuple[type, ...]) -> Any:
    _expect(isinstance(doc, dict) and key in doc, f"missing field '{key}'")
    value = doc[key]
    _expect(isinstance(value, typ), f"field '{key}' has type {type(value).__name__}")
    return value


class _Decoder:
    """Rebuilds values in definition order; every use must refer to an already defined id."""

    def __init__(self) -> None:
        self.values: dict[int, Value] = {}

    def value(self, spec: Any) -> Value:
        _expect(isinstance(spec, list) and len(spec) == 5, f"bad value {spec!r}")
        vid, shape, dtype, vis, owner = spec
        _expect(type(vid) is int and vid not in self.values, f"bad or duplicate value id {vid!r}")
        _expect(owner is None or type(owner) is int, f"bad owner {owner!r}")
        v = Value(vid, TensorType(_dec_shape(shape), DType(dtype), Visibility(vis), owner))
        self.values[vid] = v
        return v

    def use(self, vid: Any) -> Value:
        _expect(type(vid) is int and vid in self.values, f"use of undefined value {vid!r}")
        return self.values[vid]

    def region(self, doc: Any) -> Region:
        params = [self.value(s) for s in _field(doc, "params", list)]
        ops = [self.op(o) for o in _field(doc, "ops", list)]
        results = [self.use(i) for i in _field(doc, "results", list)]
        return Region(params, ops, results)

    def op(self, doc: Any) -> Op:
        inputs = [self.use(i) for i in _field(doc, "in", list)]
        regions = [self.region(r) for r in _field(doc, "regions", list)]
        outputs = [self.value(s) for s in _field(doc, "out", list)]
        attrs = _field(doc, "attrs", dict)
        return Op(_field(doc, "op", str), inputs, outputs, attrs, regions, _field(doc, "loc", str))


def loads(data: bytes, *, check: bool = True) -> Program:
    """Rebuild a Program from `dumps` output; `check=True` also runs `verify` on it.

    Raises CompileError for unknown formats/versions and for any malformed input.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise CompileError(f"loads expects bytes, got {type(data).__name__}")
    try:
        doc = _unpack(bytes(data))
        _expect(isinstance(doc, dict), "top level is not a map")
        if doc.get("format") != FORMAT:
            raise CompileError(f"not a veil IR program (format={doc.get('format')!r}, want {FORMAT!r})")
        if doc.get("version") != VERSION:
            raise CompileError(
                f"veil IR version {doc.get('version')!r} is not supported (this build reads version "
                f"{VERSION}): compile the program with the same veil version on every party"
            )
        names_in = _field(doc, "input_names", list)
        names_out = _field(doc, "output_names", list)
        _expect(all(isinstance(n, str) for n in names_in + names_out), "input/output names must be strings")
        body = _Decoder().region(_field(doc, "body", dict))
        program = Program(body, names_in, names_out, _field(doc, "meta", dict), _field(doc, "next_id", int))
    except CompileError:
        raise
    except (
        _Malformed,
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
        OverflowError,
        RecursionError,
        msgpack.UnpackException,
    ) as e:
        raise CompileError(f"malformed veil IR data: {e}") from None
    if check:
        from veil.ir.verify import verify

        verify(program)
    return program


# ---------------------------------------------------------------- structural equality


def _attr_diff(a: Any, b: Any, path: str) -> str | None:
    if type(a) is not type(b):
        return f"{path}: {type(a).__name__} vs {type(b).__name__}"
    if isinstance(a, np.ndarray | np.generic):
        same = a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
        return None if same else f"{path}: arrays differ"
    if isinstance(a, list | tuple):
        if len(a) != len(b):
            return f"{path}: lengths {len(a)} vs {len(b)}"
        return next(
            (d for i, (x, y) in enumerate(zip(a, b)) if (d := _attr_diff(x, y, f"{path}[{i}]"))), None
        )
    if isinstance(a, dict):
        if set(a) != set(b):
            return f"{path}: keys {sorted(map(str, a))} vs {sorted(map(str, b))}"
        return next((d for k in a if (d := _attr_diff(a[k], b[k], f"{path}.{k}"))), None)
    if isinstance(a, float) and a != a and b != b:  # NaN == NaN here
        return None
    return None if a == b else f"{path}: {a!r} vs {b!r}"


def _values_diff(a: list[Value], b: list[Value], path: str) -> str | None:
    ka = [(v.id, v.type) for v in a]
    kb = [(v.id, v.type) for v in b]
    return None if ka == kb else f"{path}: {ka} vs {kb}"


def _region_diff(a: Region, b: Region, path: str) -> str | None:
    diff = _values_diff(a.params, b.params, f"{path}.params")
    if diff or len(a.ops) != len(b.ops):
        return diff or f"{path}: {len(a.ops)} ops vs {len(b.ops)}"
    for i, (x, y) in enumerate(zip(a.ops, b.ops, strict=True)):
        where = f"{path}.ops[{i}]({x.opcode})"
        if (x.opcode, x.loc, len(x.regions)) != (y.opcode, y.loc, len(y.regions)):
            return f"{where}: opcode/loc/regions differ"
        diff = (
            _values_diff(x.inputs, y.inputs, f"{where}.inputs")
            or _values_diff(x.outputs, y.outputs, f"{where}.outputs")
            or _attr_diff(x.attrs, y.attrs, f"{where}.attrs")
            or next(
                (
                    d
                    for k, (r, s) in enumerate(zip(x.regions, y.regions))
                    if (d := _region_diff(r, s, f"{where}.r{k}"))
                ),
                None,
            )
        )
        if diff:
            return diff
    return _values_diff(a.results, b.results, f"{path}.results")


def first_difference(a: Program, b: Program) -> str | None:
    """Where two programs first differ structurally (ids, types, attrs, names, meta), or None."""
    if (a.input_names, a.output_names, a.next_id) != (b.input_names, b.output_names, b.next_id):
        return "input/output names or next_id differ"
    return _attr_diff(a.meta, b.meta, "meta") or _region_diff(a.body, b.body, "body")


def programs_equal(a: Program, b: Program) -> bool:
    """Structural equality: same ops, value ids, types, attributes (tuple != list), names and meta."""
    return first_difference(a, b) is None
