"""Generic boolean circuits for dealer-assisted protocols: bit planes, formulas, level plans.

Bits travel as *packed planes*: uint8 arrays of shape (..., nbytes) with nbytes = ceil(numel/8),
element e at bit (e % 8) of byte e // 8 (little bit order). Every gate below is a bitwise
AND/XOR over whole planes, so one numpy call handles 8 elements per byte.

Multi-fan-in gates by masking (one round per level, any fan-in): every circuit variable is an
affine function v = a ^ (b & s) of one secret bit s known to the dealer, with a, b public planes.
A *direct* variable uses a data bit of the dealer's edaBit mask (u = ~r, with a, b made from the
opened c = x + r: no message at all); an *opened* variable is a previous output masked by a fresh
dealer bit s and opened as a = v ^ s. A monomial over variables S then expands into
    prod_{v in S} (a_v ^ b_v s_v) = XOR_{T subset S} (prod_{S\\T} a_v)(prod_T b_v) s_{slots(T)},
public coefficients times products of secret bits, which the dealer shares. In arithmetic mode
(the last level) variables are integers v = a + b (1 - 2a) s and the same expansion over Z_2^k
gives an arithmetic 0/1 share directly. Products touching a constant pad are zero and are not
sent; groups whose lower members are all pads forward their input shares. See `Formula`,
`Level`, `run_level`.

Plans: msb(x), with x = c - r = c + ~r + 1, needs only the carry into bit k-1 (a radix-4
reduction of (generate, propagate) pairs); eqz is a radix-4 AND tree; a2b a radix-4 Sklansky
prefix. Level 1 is direct, so on 64 bits each takes the opening of c plus two masked levels:
3 rounds (4 on 128 bits).

Modules: `planes` (packed bit planes and ring conversions), `plan` (Formula, Level, Plan),
`programs` (compiled XOR programs and arithmetic coefficient tables), `run` (dealer products and
one party's level evaluation, in element chunks).
"""

from veil.mpc.circuits.plan import PAD0, PAD1, Formula, Level, Plan, Poly, terms
from veil.mpc.circuits.planes import (
    CHUNK,
    ONES,
    chunks,
    nbytes_of,
    pack,
    planes_from_ring,
    ring_from_bits,
    ring_from_planes,
    ring_from_small,
    unpack,
)
from veil.mpc.circuits.run import (
    LevelShares,
    OpenFn,
    arith_rows,
    dealer_arith_rows,
    dealer_products,
    run_level,
)

__all__ = [
    "CHUNK",
    "ONES",
    "PAD0",
    "PAD1",
    "Formula",
    "Level",
    "LevelShares",
    "OpenFn",
    "Plan",
    "Poly",
    "chunks",
    "arith_rows",
    "dealer_arith_rows",
    "dealer_products",
    "nbytes_of",
    "pack",
    "planes_from_ring",
    "ring_from_bits",
    "ring_from_planes",
    "ring_from_small",
    "run_level",
    "terms",
    "unpack",
]
