"""Shape and indexing rules: attributes emitted for the IR and plaintext equivalence with JAX."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax import lax

from veil.dtypes import DType, Visibility
from veil.frontend import public

from .frontend_eval import check_against_jax, opcodes, ops

RNG = np.random.default_rng(1)
X = RNG.normal(size=(5, 3)).astype(np.float32)
IDX = np.array([0, 2, 4])


def test_broadcast_reshape_transpose_squeeze_rev() -> None:
    def f(x):
        return (
            x.T,
            x.reshape(15),
            jnp.expand_dims(x, 0),
            jnp.squeeze(x[None]),
            x[::-1],
            jnp.broadcast_to(x[:, :1], (5, 3)),
        )

    prog = check_against_jax(f, (X,))
    assert ops(prog, "transpose")[0].attrs == {"permutation": (1, 0)}
    assert ops(prog, "reshape")[0].attrs == {"new_sizes": (15,)}
    assert ops(prog, "squeeze")[0].attrs == {"dimensions": (0,)}
    assert ops(prog, "rev")[0].attrs == {"dimensions": (0,)}
    bcs = [op.attrs for op in ops(prog, "broadcast_in_dim")]
    assert {"shape": (1, 5, 3), "broadcast_dimensions": (1, 2)} in bcs
    assert all(isinstance(d, int) for a in bcs for d in a["shape"] + a["broadcast_dimensions"])


def test_reshape_with_dimensions_transposes_first() -> None:
    prog = check_against_jax(lambda x: lax.reshape(x, (15,), dimensions=(1, 0)), (X,))
    assert [op.opcode for op in prog.body.ops] == ["transpose", "reshape"]


def test_slice_split_concatenate_pad() -> None:
    prog = check_against_jax(lambda x: x[1:4:2, 1:], (X,))
    (sl,) = ops(prog, "slice")
    assert sl.attrs == {"start_indices": (1, 1), "limit_indices": (4, 3), "strides": (2, 1)}
    prog = check_against_jax(lambda x: jnp.split(x, [1, 3]), (X,))
    assert [op.attrs["limit_indices"] for op in ops(prog, "slice")] == [(1, 3), (3, 3), (5, 3)]
    prog = check_against_jax(lambda x: jnp.concatenate([x, 2 * x], 1), (X,))
    assert ops(prog, "concatenate")[0].attrs == {"dimension": 1}
    prog = check_against_jax(lambda x: jnp.pad(x, ((1, 0), (2, 2))), (X,))
    (pad,) = ops(prog, "pad")
    assert pad.attrs == {"padding_config": ((1, 0, 0), (2, 2, 0))}
    assert all(type(i) is int for c in pad.attrs["padding_config"] for i in c)
    check_against_jax(lambda x: lax.pad(x, 1.5, ((0, 1, 1), (1, 0, 2))), (X,))


def test_iota_is_public() -> None:
    prog = check_against_jax(lambda x: jnp.arange(5) + x[:, 0], (X,))
    (iota,) = ops(prog, "iota")
    assert iota.attrs == {"shape": (5,), "dimension": 0}
    assert iota.outputs[0].type.vis is Visibility.PUBLIC and iota.outputs[0].type.dtype is DType.INT
    check_against_jax(lambda x: lax.broadcasted_iota(jnp.float32, (5, 3), 1) * x, (X,))


def test_dynamic_slice_and_update() -> None:
    prog = check_against_jax(lambda x, i: lax.dynamic_slice(x, (i, 0), (2, 3)), (X, 2))
    (ds,) = ops(prog, "dynamic_slice")
    assert ds.attrs == {"slice_sizes": (2, 3)} and len(ds.inputs) == 3
    assert all(v.type.vis is Visibility.PUBLIC and v.type.dtype is DType.INT for v in ds.inputs[1:])
    prog = check_against_jax(lambda x, u, i: lax.dynamic_update_slice(x, u, (i, 1)), (X, X[:2, :2], 3))
    (dus,) = ops(prog, "dynamic_update_slice")
    assert len(dus.inputs) == 4 and dus.attrs == {}


def test_gather_with_public_constant_index() -> None:
    prog = check_against_jax(lambda x: x[IDX], (X,))
    (g,) = ops(prog, "gather")
    dn = g.attrs["dimension_numbers"]
    assert dn == {
        "offset_dims": (1,), "collapsed_slice_dims": (0,), "start_index_map": (0,),
        "operand_batching_dims": (), "start_indices_batching_dims": (),
    }  # fmt: skip
    assert g.attrs["slice_sizes"] == (1, 3) and g.attrs["mode"] == "promise_in_bounds"
    assert g.attrs["fill_value"] is None
    assert g.inputs[1].type.vis is Visibility.PUBLIC and g.inputs[1].type.dtype is DType.INT


def test_gather_with_public_input_index_and_modes() -> None:
    prog = check_against_jax(lambda x, i: x[i], (X, public(IDX)))
    assert ops(prog, "gather")[0].inputs[1].type.vis is Visibility.PUBLIC
    prog = check_against_jax(
        lambda x, i: jnp.take(x, i, axis=1, mode="clip"), (X, public(np.array([0, 5, 2])))
    )
    assert ops(prog, "gather")[0].attrs["mode"] == "clip"
    prog = check_against_jax(
        lambda x, i: jnp.asarray(x).at[i].get(mode="fill", fill_value=-1.0), (X, public(np.array([0, 9])))
    )
    (g,) = ops(prog, "gather")
    assert g.attrs["mode"] == "fill" and g.attrs["fill_value"] == -1.0
    check_against_jax(
        lambda x, i: jnp.take_along_axis(x, i, axis=1), (X, public(RNG.integers(0, 3, size=(5, 2))))
    )


def test_scatter_add_and_scatter() -> None:
    u = RNG.normal(size=(3, 3)).astype(np.float32)
    prog = check_against_jax(lambda x, u: jnp.asarray(x).at[IDX].add(u), (X, u))
    (s,) = ops(prog, "scatter_add")
    assert s.attrs["dimension_numbers"] == {
        "update_window_dims": (1,), "inserted_window_dims": (0,), "scatter_dims_to_operand_dims": (0,),
        "operand_batching_dims": (), "scatter_indices_batching_dims": (),
    }  # fmt: skip
    assert s.attrs["mode"] == "fill" and len(s.inputs) == 3
    prog = check_against_jax(lambda x, u: jnp.asarray(x).at[IDX].set(u), (X, u))
    assert "scatter" in opcodes(prog)
    # duplicate indices accumulate
    dup = np.array([1, 1, 3])
    check_against_jax(lambda x, u: jnp.asarray(x).at[dup].add(u), (X, u))
