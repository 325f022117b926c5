"""The veil VM: executes IR programs on one party by dispatching ops to HAL (see interpreter.py)."""
