"""Write the operator benchmark's results: CSV files, the markdown summary ops.md, PNG plots.

CSV and PNG files in benchmarks/results/ are git-ignored; ops.md is the summary kept in git.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

METRICS = [
    ("party0_bytes_per", "party-0 B/elem", "{:.1f}"),
    ("total_bytes_per", "total B/elem", "{:.1f}"),
    ("rounds", "rounds", "{:.0f}"),
    ("run_s", "run s", "{:.3g}"),
    ("max_abs_err", "max abs err", "{:.2g}"),
]
LEVELS_SHORT = {
    "100gbit_0ms": "100G/0ms",
    "1gbit_1ms": "1G/1ms",
    "100mbit_10ms": "100M/10ms",
    "10mbit_100ms": "10M/100ms",
}


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """Rows as CSV; nested values (dicts) are written as JSON."""
    if not rows:
        return
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        for r in rows:
            w.writerow({k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in r.items()})


def comparison(
    veil_rows: list[dict[str, Any]], spu_rows: list[dict[str, Any]], n: int
) -> list[dict[str, Any]]:
    """One row per (op, config): each metric for veil and SPU and the ratio veil / SPU."""
    spu = {(r["op"], r["config"]): r for r in spu_rows if "op" in r and "error" not in r}
    out = []
    for v in veil_rows:
        if v.get("n") != n and v.get("per") != "call" and "error" not in v:
            continue
        s = spu.get((v["op"], v["config"]))
        row: dict[str, Any] = {"op": v["op"], "config": v["config"], "per": v.get("per", "elem")}
        if "error" in v:
            row["veil_error"] = v["error"]
        for key, _, _ in METRICS:
            a = v.get(key)
            b = s.get(key) if s else None
            row[f"veil_{key}"] = a
            row[f"spu_{key}"] = b
            row[f"ratio_{key}"] = _ratio(a, b)
        row["veil_offline_bytes_per"] = v.get("offline_bytes_per")
        out.append(row)
    return out


def _ratio(a: Any, b: Any) -> float | None:
    if a is None or b is None or not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return None
    if b == 0:
        return None if a != 0 else 1.0
    return a / b


def _fmt(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return spec.format(value)


def comparison_markdown(rows: list[dict[str, Any]]) -> list[str]:
    """The single comparison table: cells read 'veil / SPU (ratio)'."""
    head = "| op | config | " + " | ".join(label for _, label, _ in METRICS) + " | veil offline B/elem |"
    lines = [head, "|" + "---|" * (len(METRICS) + 3)]
    for r in rows:
        if "veil_error" in r:
            lines.append(
                f"| {r['op']} | {r['config']} | veil failed: {r['veil_error'][:80]} |" + " |" * len(METRICS)
            )
            continue
        cells = []
        for key, _, spec in METRICS:
            a, b, q = r[f"veil_{key}"], r[f"spu_{key}"], r[f"ratio_{key}"]
            cell = _fmt(a, spec) + " / " + _fmt(b, spec)
            cells.append(cell + (f" ({q:.2f})" if q is not None else ""))
        unit = " (per call)" if r["per"] == "call" else ""
        lines.append(
            f"| {r['op']}{unit} | {r['config']} | "
            + " | ".join(cells)
            + f" | {_fmt(r['veil_offline_bytes_per'], '{:.1f}')} |"
        )
    return lines


def veil_models_markdown(veil_rows: list[dict[str, Any]]) -> list[str]:
    """veil's fitted time and memory models y = a*n + b and compile time, per op and config."""
    lines = [
        "| op | config | sizes | time a (s/elem) | time b (s) | mem a (B/elem) | mem b (B) | max RSS MB | compile s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    seen: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in veil_rows:
        if "error" not in r:
            seen.setdefault((r["op"], r["config"]), []).append(r)
    for (op, cfg), rs in seen.items():
        last = rs[-1]
        sizes = ",".join(str(r["n"]) for r in rs)
        lines.append(
            f"| {op} | {cfg} | {sizes} | {_fmt(last.get('time_a'), '{:.3g}')} | {_fmt(last.get('time_b'), '{:.3g}')} | "
            f"{_fmt(last.get('mem_a'), '{:.3g}')} | {_fmt(last.get('mem_b'), '{:.3g}')} | "
            f"{_fmt((last.get('max_rss_bytes') or 0) / 1e6 or None, '{:.0f}')} | {_fmt(rs[0].get('compile_s'), '{:.2f}')} |"
        )
    return lines


def exp_markdown(rows: list[dict[str, Any]], levels: list[str]) -> list[str]:
    """The exp benchmark table: one row per (side, method)."""
    head = "| side | method | B/elem (party 0) | rounds | range score | rel<5% / 1% / 0.05% | abs<5 / 1 / 0.05 | MSE | MAE | MAPE | mem a, b |"
    head += "".join(f" time {LEVELS_SHORT.get(lv, lv)}: a, b |" for lv in levels)
    lines = [head, "|" + "---|" * (11 + len(levels))]
    for r in rows:
        if "error" in r:
            lines.append(
                f"| {r['side']} | {r['method']} | failed: {r['error'][:80]} |" + " |" * (8 + len(levels))
            )
            continue
        rel = " / ".join(f"{r[k]:.3f}" for k in ("rel_5pct", "rel_1pct", "rel_0.05pct"))
        ab = " / ".join(f"{r[k]:.3f}" for k in ("abs_5", "abs_1", "abs_0.05"))
        mem = f"{r['mem_a']:.3g}, {r['mem_b']:.3g}" if "mem_a" in r else "–"
        if r.get("mem_sizes"):
            mem += f" (n ≤ {max(r['mem_sizes']):.0e})"
        cells = [
            r["side"],
            r["method"],
            f"{r['party0_bytes_per']:.1f}",
            str(r["rounds"]),
            f"{r['range_score']:.3f}",
            rel,
            ab,
            f"{r['mse']:.3g}",
            f"{r['mae']:.3g}",
            f"{r['mape']:.3g}",
            mem,
        ]
        for lv in levels:
            t = r.get("network", {}).get(lv)
            star = "*" if t and t.get("modelled") else ""
            cells.append(f"{t['a']:.3g}, {t['b']:.3g}{star}" if t else "–")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def plot(compare_rows: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """Bar charts veil vs SPU (log scale) of party-0 bytes, rounds and run time, one panel per config."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    written = []
    configs = sorted({r["config"] for r in compare_rows})
    for key, label, _ in METRICS[:4]:
        fig, axes = plt.subplots(len(configs), 1, figsize=(11, 3.2 * len(configs)), squeeze=False)
        for ax, cfg in zip(axes[:, 0], configs):
            rs = [r for r in compare_rows if r["config"] == cfg and r["per"] == "elem"]
            xs = list(range(len(rs)))
            vv = [r[f"veil_{key}"] or 0 for r in rs]
            ss = [r[f"spu_{key}"] or 0 for r in rs]
            ax.bar([x - 0.2 for x in xs], vv, width=0.4, label="veil")
            ax.bar([x + 0.2 for x in xs], ss, width=0.4, label="SPU 0.9.5")
            ax.set_xticks(xs, [r["op"] for r in rs], rotation=30, ha="right", fontsize=8)
            ax.set_yscale("symlog" if key != "run_s" else "log")
            ax.set_title(f"{label} — {cfg}", fontsize=9)
            ax.legend(fontsize=8)
        fig.tight_layout()
        path = out_dir / f"ops_{key}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(path)
    return written
