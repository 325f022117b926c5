"""The user-facing runtime: simulation, `jit`, and (later) devices and party nodes."""
