"""Plots for docs/benchmarks.md from the benchmark outputs (run with veil's .venv: matplotlib).

    .venv/bin/python benchmarks/plot_results.py [--jobs benchmarks/results/jobs.csv]
        [--ops benchmarks/results/ops.md] [--out docs/img]

Reads the jobs comparison CSV written by benchmarks/bench_jobs.py and the operator comparison
table of benchmarks/results/ops.md (cells "veil / SPU (ratio)", written by `veil bench ops`).
Writes small PNGs (benchmarks/results/*.png is gitignored, so the docs' copies live in docs/img):
  jobs_cost.png  online MB and rounds per job, veil vs SPU
  jobs_time.png  compile and run seconds per job, veil vs SPU
  ops_semi2k_fm64.png  total bytes per element and rounds per op, SEMI2K FM64
  ops_ratios.png  veil ÷ SPU for bytes, rounds and run time, every op and configuration
  lr_rounds.png  LR SEMI2K rounds per epoch by op: SPU's HAL profile (spu_lr_profile.json) next
                 to veil's per-op table (veil_lr_profile.txt), both written by bench_jobs.py
"""

from __future__ import annotations

import argparse
import csv
import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
VEIL_C, SPU_C = "#2b6cb0", "#dd6b20"
CELL = re.compile(r"([-\d.e+]+) / ([-\d.e+]+)")


def _save(fig: plt.Figure, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    print(f"wrote {path} ({path.stat().st_size // 1024} KB)")


def _bars(
    ax: plt.Axes, labels: list[str], veil: list[float], spu: list[float], title: str, log: bool
) -> None:
    x = np.arange(len(labels))
    ax.bar(x - 0.2, veil, 0.4, label="veil", color=VEIL_C)
    ax.bar(x + 0.2, spu, 0.4, label="SPU 0.9.5", color=SPU_C)
    ax.set_xticks(x, labels, rotation=30, ha="right", fontsize=8)
    ax.set_title(title, fontsize=9)
    if log:
        ax.set_yscale("log")
    ax.tick_params(axis="y", labelsize=8)
    ax.grid(axis="y", alpha=0.3)


def _num(v: str) -> float:
    try:
        return float(v)
    except ValueError:
        return float("nan")


JOB_FIGURES = {  # file -> panels (metric column without the veil_/spu_ prefix, title)
    "jobs_cost.png": [("MB", "online MB sent, all parties (log)"), ("rounds", "rounds (log)")],
    "jobs_time.png": [("compile_s", "compile s (log)"), ("run_s", "run s, median, compile excluded (log)")],
    "jobs_total.png": [("total_s", "compile + run s (log)"), ("peak_MB", "peak memory added, MB (log)")],
}


def plot_jobs(csv_path: Path, out: Path) -> None:
    rows = list(csv.DictReader(csv_path.open()))
    labels = [f"{r['job']}\n{r['config']}" for r in rows]
    for name, panels in JOB_FIGURES.items():
        fig, axes = plt.subplots(1, len(panels), figsize=(8, 3.2))
        for ax, (metric, title) in zip(axes, panels):
            veil = [_num(r.get(f"veil_{metric}", "nan")) for r in rows]
            spu = [_num(r.get(f"spu_{metric}", "nan")) for r in rows]
            _bars(ax, labels, veil, spu, title, True)
        axes[0].legend(fontsize=8)
        _save(fig, out / name)


def read_ops(md_path: Path) -> list[dict]:
    """The 'Comparison at n = ...' table of ops.md: op, config, and (veil, spu) per metric."""
    text = md_path.read_text()
    section = text.split("## Comparison", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 7 or cells[0] in ("op", "") or cells[0].startswith("---"):
            continue
        pairs = [CELL.match(c) for c in cells[2:7]]
        if not all(pairs[:4]):
            continue
        vals = {
            k: (float(m.group(1)), float(m.group(2))) for k, m in zip(("p0", "total", "rounds", "run"), pairs)
        }
        rows.append({"op": cells[0].replace(" (per call)", ""), "config": cells[1], **vals})
    return rows


def plot_ops(md_path: Path, out: Path) -> None:
    rows = read_ops(md_path)
    sel = [r for r in rows if r["config"] == "semi2k_fm64" and r["op"] != "matmul"]
    labels = [r["op"] for r in sel]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    panels = [
        ("total", "SEMI2K FM64: online bytes per element, all parties"),
        ("rounds", "SEMI2K FM64: rounds"),
    ]
    for ax, (metric, title) in zip(axes, panels):
        _bars(ax, labels, [r[metric][0] for r in sel], [r[metric][1] for r in sel], title, False)
    axes[0].legend(fontsize=8)
    _save(fig, out / "ops_semi2k_fm64.png")

    ops = list(dict.fromkeys(r["op"] for r in rows))
    configs = list(dict.fromkeys(r["config"] for r in rows))
    fig, axes = plt.subplots(1, 3, figsize=(10, 4.6))
    norm = LogNorm(vmin=1 / 16, vmax=16)
    for ax, (key, title) in zip(
        axes, (("total", "bytes, all parties"), ("rounds", "rounds"), ("run", "run time"))
    ):
        grid = np.full((len(ops), len(configs)), np.nan)
        for r in rows:
            v, s = r[key]
            if s > 0 and v > 0:
                grid[ops.index(r["op"]), configs.index(r["config"])] = v / s
        im = ax.imshow(np.clip(grid, 1 / 16, 16), cmap="RdBu_r", norm=norm, aspect="auto")
        for i in range(len(ops)):
            for j in range(len(configs)):
                if grid[i, j] == grid[i, j]:
                    ax.text(j, i, f"{grid[i, j]:.2g}", ha="center", va="center", fontsize=6.5)
        ax.set_xticks(range(len(configs)), configs, rotation=20, fontsize=7)
        ax.set_yticks(range(len(ops)), ops if ax is axes[0] else [""] * len(ops), fontsize=7)
        ax.set_title(f"veil ÷ SPU: {title}", fontsize=9)
    fig.colorbar(im, ax=axes, shrink=0.8, label="veil ÷ SPU (blue: veil lower)")
    fig.savefig(out / "ops_ratios.png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    print(f"wrote {out / 'ops_ratios.png'} ({(out / 'ops_ratios.png').stat().st_size // 1024} KB)")


SPU_NAMES = {
    "f_reciprocal": "reciprocal",
    "f_div": "divide",
    "f_exp": "exp",
    "f_mul": "multiply",
    "f_mmul": "dot",
}
VEIL_NAMES = {"dot_general": "dot", "mul": "multiply", "square": "multiply", "trunc": "multiply"}
OP_COLORS = {
    "reciprocal": "#c53030",
    "divide": "#dd6b20",
    "exp": "#d69e2e",
    "multiply": "#38a169",
    "dot": "#3182ce",
}


def plot_lr_rounds(spu_json: Path, veil_txt: Path, out: Path, epochs: int = 10) -> None:
    """Stacked bars: rounds per epoch of the LR job by op, SPU vs veil."""
    spu: dict[str, float] = {}
    for r in json.loads(spu_json.read_text())["lr_10_epochs"]["hal"]:
        if r["send_actions"]:
            key = SPU_NAMES.get(r["op"], r["op"])
            spu[key] = spu.get(key, 0) + r["send_actions"] / epochs
    veil: dict[str, float] = {}
    for line in veil_txt.read_text().splitlines()[1:]:
        parts = line.split()
        if len(parts) == 6 and int(parts[3]):
            key = VEIL_NAMES.get(parts[0], parts[0])
            veil[key] = veil.get(key, 0) + int(parts[3]) / epochs
    fig, ax = plt.subplots(figsize=(8, 2.4))
    for y, d in enumerate((veil, spu)):
        left = 0.0
        for op in OP_COLORS:
            v = d.get(op, 0.0)
            if v:
                ax.barh(y, v, left=left, color=OP_COLORS[op], edgecolor="white", label=op if y else None)
                ax.text(
                    left + v / 2, y, f"{op}\n{v:.0f}", ha="center", va="center", fontsize=7, color="white"
                )
                left += v
        ax.text(left + 1, y, f"{left:.0f}", va="center", fontsize=8)
    ax.set_yticks([0, 1], ["veil", "SPU 0.9.5"], fontsize=8)
    ax.set_xlabel("rounds per epoch, LR SEMI2K FM64 (full batch)", fontsize=8)
    ax.tick_params(axis="x", labelsize=8)
    _save(fig, out / "lr_rounds.png")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jobs", default=str(ROOT / "benchmarks" / "results" / "jobs.csv"))
    p.add_argument("--ops", default=str(ROOT / "benchmarks" / "results" / "ops.md"))
    p.add_argument("--out", default=str(ROOT / "docs" / "img"))
    a = p.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    if Path(a.jobs).exists():
        plot_jobs(Path(a.jobs), out)
    if Path(a.ops).exists():
        plot_ops(Path(a.ops), out)
    results = ROOT / "benchmarks" / "results"
    if (results / "spu_lr_profile.json").exists() and (results / "veil_lr_profile.txt").exists():
        plot_lr_rounds(results / "spu_lr_profile.json", results / "veil_lr_profile.txt", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
