"""Run the SecretFlow SPU 0.9.5 side (benchmarks/spu/) in its own venv, as a subprocess.

SPU 0.9.5 needs numpy < 2 and jax <= 0.4.34, so it lives in `.spu-venv/` at the repo root,
apart from veil's environment. When that venv cannot be made, the caller gets a reason string
and prints "SPU side skipped: <reason>".
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SPU_DIR = ROOT / "benchmarks" / "spu"
VENV_PY = ROOT / ".spu-venv" / "bin" / "python"


def ensure_venv(timeout_s: float = 900.0) -> str | None:
    """Create .spu-venv if needed; None on success, else the reason it is unavailable."""
    script = SPU_DIR / "setup_venv.sh"
    if not script.exists():
        return f"{script} not found (run from a source checkout of veil)"
    try:
        proc = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return f"setup_venv.sh took longer than {timeout_s:.0f} s"
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    skipped = [ln for ln in lines if ln.startswith("SPU side skipped:")]
    if proc.returncode != 0 or skipped:
        reason = skipped[-1].split(":", 1)[1].strip() if skipped else (lines[-1] if lines else "unknown")
        return reason
    return None


def run_spu(
    ops: list[str],
    configs: list[str],
    n: int,
    repeat: int,
    exp_bench: bool,
    exp_sizes: list[int],
    timeout_s: float = 3600.0,
) -> tuple[list[dict[str, Any]], str | None]:
    """SPU's JSON rows for these ops/configs (and the exp benchmark); (rows, skip reason or None)."""
    reason = ensure_venv()
    if reason is not None:
        return [], reason
    args = [f"--n={n}", f"--ops={','.join(ops)}", f"--configs={','.join(configs)}", f"--repeat={repeat}"]
    if exp_bench:
        args += ["--exp-bench", f"--exp-sizes={','.join(str(s) for s in exp_sizes)}"]
    return run_script(SPU_DIR / "run_spu_ops.py", args, timeout_s)


def run_script(script: Path, args: list[str], timeout_s: float) -> tuple[list[dict[str, Any]], str | None]:
    """Run an SPU-side script in .spu-venv with `--out=<tmp jsonl>`; (its rows, failure or None)."""
    with tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False) as tmp:
        out = Path(tmp.name)
    cmd = [str(VENV_PY), str(script), *args, f"--out={out}"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return read_rows(out), f"{script.name} took longer than {timeout_s:.0f} s"
    rows = read_rows(out)
    out.unlink(missing_ok=True)
    if proc.returncode != 0 and not rows:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return [], f"{script.name} failed: " + " | ".join(tail)
    return rows, None


def read_rows(path: Path) -> list[dict[str, Any]]:
    """JSON objects, one per line (other lines, e.g. SPU's log, are ignored)."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("{"):
            rows.append(json.loads(line))
    return rows
