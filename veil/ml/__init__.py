"""veil.ml: workloads built on veil's public API only (`veil.jit`, `veil.public`, configs).

    veil.ml.linear          SSLogisticRegression, SSLinearRegression, SSGLM (secure SGD training)
    veil.ml.models.gpt2     GPT-2 in flax, greedy generation that traces once
    veil.ml.models.bert     BERT in flax, all-MiniLM-L6-v2 loader, sentence embeddings
    veil.ml.models.layers   exact / PUMA-style GeLU and softmax

Importing `veil.ml` loads nothing heavy; the names below load their module on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "SSLogisticRegression": "veil.ml.linear",
    "SSLinearRegression": "veil.ml.linear",
    "SSGLM": "veil.ml.linear",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'veil.ml' has no attribute '{name}'")
    return getattr(import_module(module), name)


__all__ = sorted(_LAZY)
