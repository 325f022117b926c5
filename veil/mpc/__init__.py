"""MPC layer: ring arithmetic, randomness, kernels and the protocols that run secret shares."""
