"""Imports point down the layers (DESIGN.md): walk every module's AST and check each veil import."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "veil"
LEAVES = {"veil.errors", "veil.config", "veil.dtypes"}

# package -> the veil packages it may import (besides itself and the leaf modules)
ALLOWED: dict[str, set[str]] = {
    "veil.ir": set(),
    "veil.link": set(),
    "veil.mpc": {"veil.link"},
    "veil.hal": {"veil.mpc"},
    "veil.vm": {"veil.ir", "veil.hal"},
    "veil.frontend": {"veil.ir"},
    "veil.device": {"*"},
    "veil.ml": {"veil"},  # the public API only: `import veil` / `from veil import ...`
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.append((node.lineno, name))
    return [(line, name) for line, name in found if name == "veil" or name.startswith("veil.")]


def _layer(module: str) -> str | None:
    for layer in ALLOWED:
        if module == layer or module.startswith(layer + "."):
            return layer
    return None


def _violations() -> list[str]:
    bad = []
    for path in sorted(ROOT.rglob("*.py")):
        module = _module_name(path)
        layer = _layer(module)
        if layer is None:
            continue  # top-level modules (veil/__init__, cli, demo) may import anything
        allowed = ALLOWED[layer]
        for line, name in _imports(path):
            if "*" in allowed or name in LEAVES or _layer(name) == layer:
                continue
            if layer == "veil.ml":
                if name == "veil":
                    continue
            elif any(name == a or name.startswith(a + ".") for a in allowed):
                continue
            bad.append(f"{path.relative_to(ROOT.parent)}:{line}: {layer} must not import {name}")
    return bad


def test_no_upward_imports() -> None:
    assert _violations() == []


def test_checker_catches_a_violation(tmp_path: Path) -> None:
    fake = tmp_path / "veil"
    (fake / "link").mkdir(parents=True)
    (fake / "link" / "bad.py").write_text("from veil.mpc import ring\n")
    globals()["ROOT"] = fake
    try:
        assert any("veil.link must not import veil.mpc" in v for v in _violations())
    finally:
        globals()["ROOT"] = Path(__file__).resolve().parents[1] / "veil"


def test_no_private_jax_or_insecure_randomness() -> None:
    for path in ROOT.rglob("*.py"):
        text = path.read_text()
        assert "jax._src" not in text, f"{path}: uses private JAX internals"
        assert "np.random" not in text and "numpy.random" not in text, f"{path}: non-cryptographic randomness"
        assert "import pickle" not in text, f"{path}: pickle is not allowed in library code"
