#!/usr/bin/env bash
# Create .spu-venv/ at the repo root with SecretFlow SPU 0.9.5, plus flax and scikit-learn for the
# jobs benchmark (kept apart from veil's .venv:
# SPU 0.9.5 needs numpy<2 and jax<=0.4.34, veil runs on numpy 2 / jax 0.10).
# spu 0.9.5 wheel metadata: Requires-Python >=3.10,<3.12; numpy>=1.22,<2; jax[cpu]>=0.4.16,<=0.4.34;
# cloudpickle, multiprocess, cachetools, termcolor.
# Usage: bash benchmarks/spu/setup_venv.sh [python]   (idempotent; prints "SPU side skipped: ..." on failure)
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.spu-venv"
PY="${1:-${SPU_PYTHON:-python3}}"

skip() { echo "SPU side skipped: $*"; exit 2; }

# The jobs benchmark (run_spu_jobs.py) also needs flax (MLP, GPT-2) and scikit-learn (the data).
# flax 0.8.5 is the last release before NNX-era pins; it accepts jax 0.4.34. optax/orbax are
# capped so pip does not backtrack into releases that require a newer jax.
EXTRAS=("flax==0.8.5" "optax<0.2.4" "orbax-checkpoint<0.9" "scikit-learn<1.7")
READY="import spu, jax, flax.linen, sklearn; assert spu.__version__ == '0.9.5'"

if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "$READY" 2>/dev/null; then
  echo "spu venv ready: $VENV"
  exit 0
fi
command -v "$PY" >/dev/null 2>&1 || skip "no interpreter '$PY'"
"$PY" -c 'import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] < (3, 12) else 1)' \
  || skip "spu 0.9.5 ships wheels for CPython 3.10/3.11 only, found $("$PY" -V 2>&1)"
"$PY" -m venv "$VENV" || skip "python -m venv failed"
"$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
"$VENV/bin/python" -m pip install -q "spu==0.9.5" "jax[cpu]==0.4.34" "jaxlib==0.4.34" "numpy<2" \
  || skip "pip install spu==0.9.5 failed (no wheel for this platform or no network)"
"$VENV/bin/python" -c "import spu; import spu.utils.simulation" || skip "import spu failed"
"$VENV/bin/python" -m pip install -q "${EXTRAS[@]}" "jax[cpu]==0.4.34" "jaxlib==0.4.34" "numpy<2" \
  || skip "pip install flax/scikit-learn for the jobs benchmark failed"
"$VENV/bin/python" -c "$READY" || skip "import flax.linen / sklearn failed in .spu-venv"
echo "spu venv ready: $VENV"
