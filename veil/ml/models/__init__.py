"""Transformer models in flax for secure inference: `gpt2`, `bert`, shared `layers`, `wordpiece`."""
