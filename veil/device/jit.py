"""`veil.jit`: trace a JAX function, compile it to veil IR, run it on secret shares, reveal results.

f = veil.jit(fn, protocol="semi2k", field="FM64", parties=2)
out = f(x, veil.public(w))     # inputs are secret unless marked public; Python scalars are public
out = f(private(x, 0), w)      # x is party 0's own data: plaintext there until an op needs it shared
f.stats                        # online/offline bytes, rounds, wall time, per-op table
f.ir                           # the compiled program as text
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

from veil.config import Field, ProtocolKind, RuntimeConfig
from veil.device.codec import decode, encode
from veil.device.private import Compiled, ProgramCache, dyn_leaves, split_call
from veil.device.progress import ProgressSink
from veil.device.simulation import PartyInput, RunStats, Simulator
from veil.dtypes import Visibility
from veil.errors import ConfigError
from veil.ir.printer import format_program
from veil.ir.program import Program
from veil.link.shaper import Shaper
from veil.mpc import io


class JitFunction:
    """A JAX function compiled for secure execution; call it like the original."""

    def __init__(
        self,
        fn: Callable[..., Any],
        config: RuntimeConfig,
        static_argnums: Sequence[int] = (),
        static_argnames: Sequence[str] = (),
        shaper: Shaper | None = None,
        progress: ProgressSink | bool | None = None,
    ) -> None:
        self.fn = fn
        self.config = config
        self.static_argnums = tuple(static_argnums)
        self.static_argnames = tuple(static_argnames)
        self.simulator = Simulator(config, shaper=shaper)
        self.stats = RunStats()
        self.progress = progress
        self._program: Program | None = None
        self._cache = ProgramCache(config)

    @property
    def ir(self) -> str:
        """The compiled IR of the last call (or of the last `compile`), as text."""
        if self._program is None:
            return "<not compiled yet: call the function or its .compile(...) first>"
        return format_program(self._program)

    @property
    def program(self) -> Program | None:
        return self._program

    def compile(self, *args: Any, **kwargs: Any) -> Compiled:
        """Trace and compile for these arguments; cached by function, static arguments and the
        shapes, dtypes and visibilities of the inputs, so a repeated call does not re-trace."""
        return self._compile(args, kwargs)[0]

    def _compile(self, args: Any, kwargs: dict[str, Any]) -> tuple[Compiled, list[Any]]:
        nums, names = self.static_argnums, self.static_argnames
        args2, kwargs2, marks = split_call(args, kwargs, nums, names)
        compiled, leaves = self._cache.get(self.fn, args2, kwargs2, nums, names, marks)
        if leaves is None:
            leaves = [np.asarray(x) for x in dyn_leaves(args2, kwargs2, nums, names)]
        self._program = compiled.program
        return compiled, leaves

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        compiled, leaves = self._compile(args, kwargs)
        program = compiled.program
        compile_s = time.perf_counter() - start
        inputs = []
        for i, (leaf, value) in enumerate(zip(leaves, program.inputs)):
            t = value.type
            name = program.input_names[i] if i < len(program.input_names) else ""
            ring_value = encode(self.config, np.asarray(leaf), t.dtype, name)
            inputs.append(PartyInput(t, self.simulator.share_input(ring_value, t.vis, t.owner)))
        party_outputs, stats = self.simulator.run(program, inputs, progress=self.progress)
        stats.compile_s = compile_s
        self.stats = stats
        flat = [
            self._reveal([outs[i] for outs in party_outputs], aval)
            for i, aval in enumerate(compiled.out_avals)
        ]
        return jax.tree_util.tree_unflatten(compiled.out_tree, flat)

    def _reveal(self, values: list[Any], aval: Any) -> np.ndarray:
        """Reconstruct one output from the parties' HAL values (reveal to the caller)."""
        v0 = values[0]
        if v0.vis is Visibility.PUBLIC:
            ring_value = v0.payload
        elif v0.vis is Visibility.PRIVATE:
            ring_value = values[v0.owner].payload
        else:
            ring_value = io.reconstruct(self.config, [v.payload for v in values])
        out = decode(self.config, np.asarray(ring_value), v0.dtype, np.dtype(aval.dtype))
        return out.reshape(aval.shape)


def jit(
    fn: Callable[..., Any],
    protocol: str | ProtocolKind = "semi2k",
    field: str | Field = "FM64",
    parties: int | None = None,
    static_argnums: int | Sequence[int] = (),
    static_argnames: str | Sequence[str] = (),
    config: RuntimeConfig | None = None,
    shaper: Shaper | None = None,
    progress: ProgressSink | bool | None = None,
) -> JitFunction:
    """Compile `fn` for secure execution (simulation: parties as threads in this process).

    `parties` defaults to 3 for aby3 and 2 otherwise. `config` overrides protocol/field/parties.
    Mark a party's own data with `veil.device.private.private(x, rank)`: it stays in plaintext at
    that party until an op needs it shared. `progress=True` shows a progress line on stderr;
    a callable receives `veil.device.progress.Progress` snapshots (rate-limited).
    """
    if config is None:
        proto = _protocol_kind(protocol)
        if parties is None:
            parties = 3 if proto is ProtocolKind.ABY3 else 2
        config = RuntimeConfig(protocol=proto, field=field, world_size=parties)
    elif not isinstance(config, RuntimeConfig):
        raise ConfigError(f"config must be a veil.RuntimeConfig, got {type(config).__name__}")
    if isinstance(static_argnums, int):
        static_argnums = (static_argnums,)
    if isinstance(static_argnames, str):
        static_argnames = (static_argnames,)
    return JitFunction(fn, config, static_argnums, static_argnames, shaper=shaper, progress=progress)


def _protocol_kind(protocol: str | ProtocolKind) -> ProtocolKind:
    if isinstance(protocol, ProtocolKind):
        return protocol
    try:
        return ProtocolKind(str(protocol).lower())
    except ValueError:
        allowed = ", ".join(p.value for p in ProtocolKind)
        raise ConfigError(f"protocol={protocol!r}: allowed values are {allowed}") from None
