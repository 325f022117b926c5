"""Subprocess entry: measure one op under one configuration and print its rows as `ROW {json}`.

    python -m veil.bench.worker '{"op": "exp", "config": "semi2k_fm64", "sizes": [1000], "repeat": 3, "memory": true}'

Run by veil_ops.op_rows so that each op gets its own process (memory isolation, max RSS per op).
"""

from __future__ import annotations

import json
import sys

from veil.bench import ops_table as T
from veil.bench.veil_ops import measure_rows


def main(argv: list[str]) -> int:
    # float64 outputs, as SPU's reconstruction gives: with JAX's default float32 the rounding of
    # large results (a 256x256 matmul reaches |300|, float32 steps of 3e-5) would hide the
    # protocol's own error
    import jax

    jax.config.update("jax_enable_x64", True)
    job = json.loads(argv[0])
    spec = T.OPS[job["op"]]
    rows = measure_rows(spec, job["config"], list(job["sizes"]), int(job["repeat"]), bool(job["memory"]))
    for row in rows:
        print("ROW " + json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
