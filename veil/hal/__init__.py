"""HAL: typed arithmetic on Values (fixed point, integers, booleans) over the MPC kernels.

Modules: `value` (Value), `ring` and `ring_bits` (visibility dispatch; the only callers of
`veil.mpc.api`), `fxp` (encoding, mul + trunc, rounding), `integer`, `polymorphic` (dtype
dispatch), `compare`, `logic`, `polynomial`, `shape`, `indexing`, `linalg`, `reduce`, `layout`
(payload plumbing) and `approx/` (nonlinear functions). Import the submodules directly; nothing
runs at import time.
"""
