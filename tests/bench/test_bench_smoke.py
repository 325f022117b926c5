"""Smoke test of `veil bench ops`: a tiny veil-only run finishes and writes its CSV and summary."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from veil.bench import main
from veil.bench import ops_table as T
from veil.bench.report import comparison


def test_tiny_run_writes_csv(tmp_path: Path) -> None:
    rc = main(
        [
            "ops",
            "--n",
            "100",
            "--ops",
            "mul,less",
            "--protocols",
            "semi2k",
            "--fields",
            "FM64",
            "--no-exp",
            "--repeat",
            "1",
            "--out-dir",
            str(tmp_path),
        ]
    )
    assert rc == 0
    rows = list(csv.DictReader((tmp_path / "ops_veil.csv").open()))
    by_op = {r["op"]: r for r in rows if r["n"] == "100"}
    assert set(by_op) == {"mul", "less"}
    # a secret x secret multiply on 2PC semi2k sends bytes and needs at least one round
    assert float(by_op["mul"]["party0_bytes_per"]) > 0
    assert int(by_op["mul"]["rounds"]) >= 1
    assert float(by_op["mul"]["max_abs_err"]) < 1e-3
    assert float(by_op["less"]["max_abs_err"]) == 0.0
    assert "veil / SPU" in (tmp_path / "ops.md").read_text()


def test_inputs_cover_range_deterministically() -> None:
    x = T.spread(-5.0, 5.0, 1000)
    assert np.all((x > -5.0) & (x < 5.0))
    assert np.allclose(np.sort(x), -5.0 + 10.0 * (np.arange(1000) + 0.5) / 1000)
    assert np.array_equal(x, T.spread(-5.0, 5.0, 1000))
    assert not np.array_equal(x, np.sort(x))


def test_range_score_and_ratio() -> None:
    want = np.exp(np.linspace(-40, 40, 100))
    assert T.range_score(want, want)["range_score"] == 1.0
    half = T.range_score(np.where(np.arange(100) < 50, want, want * 3 + 10), want)
    assert abs(half["range_score"] - 0.5) < 1e-9
    rows = comparison(
        [
            {
                "op": "mul",
                "config": "semi2k_fm64",
                "n": 10,
                "per": "elem",
                "party0_bytes_per": 10.0,
                "rounds": 1,
            }
        ],
        [{"op": "mul", "config": "semi2k_fm64", "party0_bytes_per": 20.0, "rounds": 2}],
        10,
    )
    assert rows[0]["ratio_party0_bytes_per"] == 0.5 and rows[0]["ratio_rounds"] == 0.5


def test_exp_memory_points_stop_at_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sizes whose fitted peak would pass the budget are skipped (no 100 GB attempt at n = 1e7)."""
    from veil.bench import exp_bench

    monkeypatch.setattr(exp_bench, "_jit", lambda method: None)
    monkeypatch.setattr(exp_bench, "_peak_memory", lambda f, args: 1000 + 100 * args[0].size)
    sizes, mems = exp_bench.memory_points("taylor", [10_000, 100, 1_000, 100_000], budget=5_000_000)
    assert sizes == [100, 1_000, 10_000]  # 100,000 elements would need ~1e7 bytes
    assert mems == [11_000, 101_000, 1_001_000]
