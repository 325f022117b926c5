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
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import numpy as np

from veil.config import Field
from veil.mpc import ring

Poly = tuple[tuple[int, tuple[int, ...]], ...]  # ((coefficient, variables of the monomial), ...)


# ------------------------------------------------------------------------------------ bit planes


def nbytes_of(numel: int) -> int:
    """Bytes of one packed plane holding `numel` bits."""
    return (int(numel) + 7) // 8


def pack(bits: np.ndarray) -> np.ndarray:
    """0/1 array (..., numel) -> packed planes (..., nbytes)."""
    return np.packbits(np.asarray(bits, dtype=np.uint8), axis=-1, bitorder="little")


def unpack(planes: np.ndarray, numel: int) -> np.ndarray:
    """Packed planes (..., nbytes) -> uint8 0/1 array (..., numel)."""
    return np.unpackbits(planes, axis=-1, count=int(numel), bitorder="little")


def planes_from_ring(x: np.ndarray) -> np.ndarray:
    """Ring array (any shape) -> its k bit planes (k, nbytes), bit 0 first, elements flattened."""
    bits = ring.bit_decompose(np.ascontiguousarray(x).reshape(-1))  # (numel, k)
    return pack(np.ascontiguousarray(bits.T))


def ring_from_planes(planes: np.ndarray, numel: int, field: Field) -> np.ndarray:
    """Inverse of `planes_from_ring`: (k, nbytes) -> flat ring array (numel,)."""
    bits = unpack(planes, numel)  # (k, numel)
    return ring.bit_compose(np.ascontiguousarray(bits.T), field)


def ring_from_bits(bits: np.ndarray, field: Field) -> np.ndarray:
    """Non-negative small integers (0/1 bits) -> ring elements of the same shape (one copy)."""
    lo = np.asarray(bits).astype(np.uint64)
    if field is Field.FM64:
        return lo
    out = np.empty(lo.shape, ring.U128)
    out["lo"], out["hi"] = lo, 0
    return out


def ring_from_small(c: np.ndarray, field: Field) -> np.ndarray:
    """Signed int64 -> ring elements (a zero-copy view on FM64)."""
    if field is Field.FM64:
        return c.view(np.uint64)
    return ring.from_int64(field, c)


ONES = np.uint8(0xFF)


# -------------------------------------------------------------------------------------- formulas


@dataclass(frozen=True)
class Formula:
    """Outputs of one gate group as polynomials over its `nvars` input variables.

    `slot_of[v]` is the group-local secret slot of variable v (variables that are functions of
    the same secret bit share a slot). XOR mode: coefficients are taken mod 2 and outputs are XOR
    shares. Arithmetic mode: integer coefficients, outputs are arithmetic shares in Z_2^k.
    """

    nvars: int
    slot_of: tuple[int, ...]
    outputs: tuple[Poly, ...]
    arith: bool = False
    through: tuple[int, ...] | None = None  # output i = variable through[i] when the variables
    through_pads: tuple[int, ...] = ()  # `through_pads` are all pads (an identity group)
    subsets: tuple[tuple[int, ...], ...] = field(init=False)  # slot sets the dealer multiplies

    def __post_init__(self) -> None:
        need: set[tuple[int, ...]] = set()
        for _coef, mono in (t for poly in self.outputs for t in poly):
            for size in range(len(mono) + 1):
                for sub in itertools.combinations(mono, size):
                    slots = tuple(sorted({self.slot_of[v] for v in sub}))
                    if len(slots) >= (1 if self.arith else 2):
                        need.add(slots)
        object.__setattr__(self, "subsets", tuple(sorted(need, key=lambda s: (len(s), s))))

    @property
    def nslots(self) -> int:
        return max(self.slot_of) + 1

    @property
    def used_vars(self) -> tuple[int, ...]:
        return tuple(sorted({v for poly in self.outputs for _c, mono in poly for v in mono}))


# -------------------------------------------------------------------------------------- plans

PAD0, PAD1 = -1, -2  # source codes of constant inputs 0 and 1


@dataclass(frozen=True)
class Level:
    """One layer of gate groups.

    Inputs: `n_prev` outputs of the previous level (flattened group-major), then `n_extra` direct
    inputs whose (a, b) planes the caller supplies. `src[g, v]` is the input of group g's
    variable v (or PAD0 / PAD1). Previous outputs that are used get masked and opened
    (`opened`). The secret space of the level is [masks of `opened`] + [k data bits] + [zero];
    `sec_of_extra[j]` names the data bit behind extra input j.
    """

    formula: Formula
    src: np.ndarray
    n_prev: int
    n_extra: int
    sec_of_extra: tuple[int, ...]
    opened: tuple[int, ...] = field(init=False)

    through: np.ndarray = field(init=False)  # (groups,) bool: identity groups, shares forwarded

    def __post_init__(self) -> None:
        f = self.formula
        through = np.zeros(self.src.shape[0], bool)
        if f.through is not None and self.n_prev > 0:
            pads = (self.src[:, list(f.through_pads)] < 0).all(axis=1)
            through = pads & (self.src[:, list(f.through)] >= 0).all(axis=1)
        used = self.src[~through][:, list(f.used_vars)]
        opened = sorted({int(i) for i in used.ravel() if 0 <= i < self.n_prev})
        object.__setattr__(self, "opened", tuple(opened))
        object.__setattr__(self, "through", through)

    @property
    def groups(self) -> int:
        return int(self.src.shape[0])

    @functools.cached_property
    def live(self) -> np.ndarray:
        """(groups, nsub) bool: products with no pad slot (a pad's secret is 0, so are they)."""
        dead_var = (self.src < 0) | ((self.src < self.n_prev) & ~np.isin(self.src, self.opened))
        dead_slot = np.zeros((self.groups, self.formula.nslots), bool)
        for v, slot in enumerate(self.formula.slot_of):
            dead_slot[:, slot] = dead_var[:, v]  # variables of one slot share its secret
        live = np.ones((self.groups, len(self.formula.subsets)), bool)
        for i, sub in enumerate(self.formula.subsets):
            live[:, i] = ~dead_slot[:, list(sub)].any(axis=1)
        return live

    @property
    def n_live(self) -> int:
        """Dealer products this level needs per element."""
        return int(self.live.sum())

    def slot_index(self, k: int) -> np.ndarray:
        """(groups, nslots) index of each group slot into the level's secret space."""
        zero = len(self.opened) + k
        mask_pos = {v: i for i, v in enumerate(self.opened)}
        sec = np.full(self.n_prev + self.n_extra + 2, zero, np.int64)  # pads -> zero bit
        for v, i in mask_pos.items():
            sec[v] = i
        sec[self.n_prev : self.n_prev + self.n_extra] = len(self.opened) + np.asarray(
            self.sec_of_extra, np.int64
        )
        src = _resolve(self.src, self.n_prev + self.n_extra)
        out = np.full((self.groups, self.formula.nslots), zero, np.int64)
        for v, slot in enumerate(self.formula.slot_of):
            out[:, slot] = sec[src[:, v]]  # variables of one slot name the same secret
        return out


def _resolve(src: np.ndarray, n_in: int) -> np.ndarray:
    """Map PAD0 / PAD1 codes to rows n_in / n_in + 1."""
    return np.where(src == PAD0, n_in, np.where(src == PAD1, n_in + 1, src))


@dataclass(frozen=True)
class Plan:
    """A circuit: levels evaluated in order over the bits of a k-bit edaBit mask."""

    k: int
    levels: tuple[Level, ...]

    @property
    def masked_levels(self) -> int:
        return sum(1 for lv in self.levels if lv.opened)

    def opened_bits(self) -> int:
        """Packed planes opened per party over all levels."""
        return sum(len(lv.opened) for lv in self.levels)


# ---------------------------------------------------------------------------- dealer products


def dealer_products(level: Level, secrets: np.ndarray, numel: int) -> np.ndarray:
    """Plain products of the level's secret bits for every live (group, subset), flattened.

    secrets: (nsec, nbytes) packed plain bits [masks | data | zero]. XOR mode returns packed
    (n_live, nbytes); arithmetic mode returns 0/1 uint8 (n_live, numel).
    """
    slot_vals = secrets[level.slot_index(secrets.shape[0] - len(level.opened) - 1)]  # (G, nslots, nb)
    out = np.empty((level.groups, len(level.formula.subsets), secrets.shape[1]), np.uint8)
    for i, sub in enumerate(level.formula.subsets):
        out[:, i] = np.bitwise_and.reduce(slot_vals[:, list(sub)], axis=1)
    out = out[level.live]
    return unpack(out, numel) if level.formula.arith else out


def expand_products(level: Level, prods: np.ndarray) -> np.ndarray:
    """Flat live products (n_live, ...) -> (groups, nsub, ...) with zeros (shares of 0) elsewhere."""
    full = np.zeros((level.groups, len(level.formula.subsets)) + prods.shape[1:], prods.dtype)
    full[level.live] = prods
    return full


# --------------------------------------------------------------------------------- evaluation


@functools.cache
def _terms(
    formula: Formula,
) -> tuple[tuple[tuple[int, tuple[int, ...], tuple[int, ...], tuple[int, ...]], ...], ...]:
    """Per output: (coefficient, public vars S\\T, secret vars T, slot set of T) for every T."""
    outs = []
    for poly in formula.outputs:
        terms = []
        for coef, mono in poly:
            for size in range(len(mono) + 1):
                for sub in itertools.combinations(mono, size):
                    pub = tuple(v for v in mono if v not in sub)
                    terms.append((coef, pub, sub, tuple(sorted({formula.slot_of[v] for v in sub}))))
        outs.append(tuple(terms))
    return tuple(outs)


ProductFn = Callable[[tuple[int, ...], tuple[int, ...]], "np.ndarray | None"]


def _products(
    x: np.ndarray, y: np.ndarray | None, mul: Callable[[np.ndarray, np.ndarray], np.ndarray]
) -> ProductFn:
    """Memoized products of x[:, pub] and y[:, sub] over variable sets; None means all ones.

    y None: every y factor is one (masked levels: pads have a zero secret, so b is not needed).
    """
    memo: dict[tuple[tuple[int, ...], tuple[int, ...]], np.ndarray | None] = {((), ()): None}

    def get(pub: tuple[int, ...], sub: tuple[int, ...]) -> np.ndarray | None:
        key = (pub, sub if y is not None else ())
        if key not in memo:
            if key[1]:
                rest, last = get(pub, key[1][:-1]), cast(np.ndarray, y)[:, key[1][-1]]
            else:
                rest, last = get(pub[:-1], ()), x[:, pub[-1]]
            memo[key] = last if rest is None else mul(rest, last)
        return memo[key]

    return get


def eval_xor(
    formula: Formula, a: np.ndarray, b: np.ndarray | None, singles: np.ndarray, prods: np.ndarray, lead: bool
) -> np.ndarray:
    """XOR shares of each output, packed (groups, nout, nbytes).

    a, b: public planes (groups, nvars, nbytes) (b None: all ones); singles: this party's XOR
    shares of each slot's secret (groups, nslots, nbytes); prods: its shares of the dealer
    products (groups, nsub, nbytes).
    """
    index = {s: i for i, s in enumerate(formula.subsets)}
    groups, _, nb = a.shape
    coef_of = _products(a, b, np.bitwise_and)
    out = np.zeros((groups, len(formula.outputs), nb), np.uint8)
    for o, terms in enumerate(_terms(formula)):
        coefs: dict[tuple[int, ...], np.ndarray | None] = {}
        flips: dict[tuple[int, ...], int] = {}  # parity of all-ones coefficients
        for coef, pub, sub, slots in terms:
            if coef % 2 == 0:
                continue
            c = coef_of(pub, sub)
            if c is None:
                flips[slots] = flips.get(slots, 0) ^ 1
            else:
                coefs[slots] = c if coefs.get(slots) is None else coefs[slots] ^ c
        for slots in set(coefs) | set(flips):
            c = coefs.get(slots)
            if flips.get(slots):
                c = ~c if c is not None else np.full((groups, nb), ONES, np.uint8)
            if c is None:
                continue
            if not slots:
                if lead:
                    out[:, o] ^= c
            elif len(slots) == 1:
                out[:, o] ^= c & singles[:, slots[0]]
            else:
                out[:, o] ^= c & prods[:, index[slots]]
    return out


def eval_arith(
    formula: Formula, a: np.ndarray, b: np.ndarray | None, prods: np.ndarray, lead: bool, field: Field
) -> np.ndarray:
    """Arithmetic shares of each output, ring array (groups, nout, numel).

    a, b: public 0/1 uint8 (groups, nvars, numel) (b None: all ones); prods: this party's ring
    shares of every dealer product (groups, nsub, numel), singletons included.
    """
    index = {s: i for i, s in enumerate(formula.subsets)}
    alpha = a.astype(np.int64)
    beta = 1 - 2 * alpha  # v = alpha + b (1 - 2 alpha) s over the integers
    if b is not None:
        beta *= b
    coef_of = _products(alpha, beta, np.multiply)
    groups, _, numel = a.shape
    out = ring.zeros(field, (groups, len(formula.outputs), numel))
    for o, terms in enumerate(_terms(formula)):
        coefs: dict[tuple[int, ...], np.ndarray] = {}
        for coef, pub, sub, slots in terms:
            c = coef_of(pub, sub)
            c = np.full((groups, numel), coef, np.int64) if c is None else coef * c
            coefs[slots] = c if slots not in coefs else coefs[slots] + c
        acc = ring.zeros(field, (groups, numel))
        for slots, c in coefs.items():
            if not slots:
                if lead:
                    acc = ring.add(acc, ring_from_small(c, field))
            else:
                acc = ring.add(acc, ring.mul(ring_from_small(c, field), prods[:, index[slots]]))
        out[:, o] = acc
    return out


# ------------------------------------------------------------------------------ running a plan


@dataclass
class LevelShares:
    """One party's correlated randomness for one level: mask shares and product shares."""

    masks: np.ndarray  # (len(opened), nbytes) packed XOR shares
    prods: np.ndarray  # XOR: (n_live, nbytes) packed; arith: ring (n_live, numel)


OpenFn = Callable[[np.ndarray], np.ndarray]  # XOR shares of packed planes -> public planes


def run_level(
    level: Level,
    prev: np.ndarray | None,
    extra_ab: tuple[np.ndarray, np.ndarray] | None,
    data: np.ndarray,
    sh: LevelShares,
    open_xor: OpenFn,
    lead: bool,
    numel: int,
    field: Field,
) -> np.ndarray:
    """Evaluate one level for this party.

    prev: XOR shares of the previous outputs (n_prev, nbytes); extra_ab: public (a, b) planes of
    the extra inputs, each (n_extra, nbytes); data: XOR shares of the k data bits (k, nbytes).
    Returns packed XOR shares (groups * nout, nbytes), or ring shares (groups, nout, numel).
    """
    nb = data.shape[1]
    n_in = level.n_prev + level.n_extra
    a_in = np.zeros((n_in + 2, nb), np.uint8)
    b_in = np.zeros((n_in + 2, nb), np.uint8)
    a_in[n_in + 1] = ONES  # PAD1
    if level.opened:
        if prev is None:
            raise ValueError("circuits.run_level: a masked level needs the previous level's outputs")
        idx = list(level.opened)
        a_in[idx] = open_xor(prev[idx] ^ sh.masks)
        b_in[idx] = ONES
    if level.n_extra:
        if extra_ab is None:
            raise ValueError("circuits.run_level: this level needs the (a, b) planes of its extra inputs")
        a_in[level.n_prev : n_in], b_in[level.n_prev : n_in] = extra_ab
    src = _resolve(level.src, n_in)
    a = a_in[src]  # (groups, nvars, nbytes)
    # b is needed only where it is not all ones: a pad's secret is the zero bit, so its b = 0
    # may be taken as 1 (every product with the zero bit is 0)
    trivial_b = level.n_prev > 0 and bool((b_in[level.n_prev : n_in] == ONES).all())
    b = None if trivial_b else b_in[src]
    prods = expand_products(level, sh.prods)
    if level.formula.arith:
        b01 = None if b is None else unpack(b, numel)
        return eval_arith(level.formula, unpack(a, numel), b01, prods, lead, field)
    secrets = np.concatenate([sh.masks, data, np.zeros((1, nb), np.uint8)])
    singles = secrets[level.slot_index(data.shape[0])]
    out = eval_xor(level.formula, a, b, singles, prods, lead)
    if level.through.any():  # identity groups: forward the input shares, nothing was opened
        out[level.through] = prev[level.src[level.through][:, list(level.formula.through)]]  # type: ignore[index]
    return out.reshape(out.shape[0] * out.shape[1], nb)
