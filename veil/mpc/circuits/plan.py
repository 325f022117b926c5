"""Circuit structure: gate formulas (`Formula`), layers of gate groups (`Level`) and plans.

A formula gives a gate group's outputs as polynomials over its input variables; a level wires
groups to the previous level's outputs, to direct inputs, or to constant pads; a plan is the
sequence of levels. Everything here is public and cached: evaluation lives in `run`.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass, field

import numpy as np

Poly = tuple[tuple[int, tuple[int, ...]], ...]  # ((coefficient, variables of the monomial), ...)
PAD0, PAD1 = -1, -2  # source codes of constant inputs 0 and 1


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


@functools.cache
def terms(
    formula: Formula,
) -> tuple[tuple[tuple[int, tuple[int, ...], tuple[int, ...], tuple[int, ...]], ...], ...]:
    """Per output: (coefficient, public vars S\\T, secret vars T, slot set of T) for every T."""
    outs = []
    for poly in formula.outputs:
        out = []
        for coef, mono in poly:
            for size in range(len(mono) + 1):
                for sub in itertools.combinations(mono, size):
                    pub = tuple(v for v in mono if v not in sub)
                    out.append((coef, pub, sub, tuple(sorted({formula.slot_of[v] for v in sub}))))
        outs.append(tuple(out))
    return tuple(outs)


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

    @property
    def n_in(self) -> int:
        return self.n_prev + self.n_extra

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

    @functools.cached_property
    def live_pos(self) -> np.ndarray:
        """(groups, nsub) row of each live product in the flat live list (group-major), else -1."""
        pos = np.full(self.live.shape, -1, np.int64)
        pos[self.live] = np.arange(int(self.live.sum()))
        return pos

    @property
    def n_live(self) -> int:
        """Dealer products this level needs per element."""
        return int(self.live.sum())

    @functools.cached_property
    def resolved_src(self) -> np.ndarray:
        """`src` with PAD0 / PAD1 mapped to rows n_in / n_in + 1 of the input planes."""
        return _resolve(self.src, self.n_in)

    def slot_index(self, k: int) -> np.ndarray:
        """(groups, nslots) index of each group slot into the level's secret space."""
        cache = self.__dict__.setdefault("_slot_index_cache", {})
        if k not in cache:
            cache[k] = self._slot_index(k)
        return cache[k]

    def _slot_index(self, k: int) -> np.ndarray:
        zero = len(self.opened) + k
        sec = np.full(self.n_in + 2, zero, np.int64)  # pads -> zero bit
        for i, v in enumerate(self.opened):
            sec[v] = i
        sec[self.n_prev : self.n_in] = len(self.opened) + np.asarray(self.sec_of_extra, np.int64)
        out = np.full((self.groups, self.formula.nslots), zero, np.int64)
        for v, slot in enumerate(self.formula.slot_of):
            out[:, slot] = sec[self.resolved_src[:, v]]  # variables of one slot name the same secret
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
