"""Operator benchmark, veil next to SecretFlow SPU 0.9.5 (same machine, same run, same inputs).

    .venv/bin/python benchmarks/bench_ops.py [--n 100000] [--sizes 10000,100000,1000000]
        [--ops mul,exp,...] [--protocols semi2k,aby3] [--fields FM64,FM128] [--with-spu]

The same as `veil bench ops ...` (see veil/bench/__init__.py). SPU runs in its own venv
(.spu-venv/, made by benchmarks/spu/setup_venv.sh) because it needs numpy < 2 and jax 0.4.34.
Results: benchmarks/results/ops.md (summary), ops_*.csv, exp_bench.csv and ops_*.png.
"""

from __future__ import annotations

import sys

from veil.bench import main

if __name__ == "__main__":
    sys.exit(main(["ops", *sys.argv[1:]]))
