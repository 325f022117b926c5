"""The main demo: secure training on vertically partitioned breast-cancer data, on party processes.

Alice holds 15 feature columns, bob the other 15 and the labels; each loads only its own part.
`veil.init(parties=[...], address="local")` starts the compute parties (and the semi2k dealer)
as local processes; the SPU trains on secret shares and reveals only the model, which the
driver scores against the same program run in plaintext. If the processes cannot be started,
the demo falls back to the in-process simulator (`veil.jit`) and says so.

    python -m veil.demo [--job lr|mlp|bert] [--protocol semi2k|aby3] [--field FM64|FM128]
                        [--epochs N] [--simulate] [--text "a sentence"]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

STAGES = 5  # start parties, load+share, compile+run, reveal, plaintext reference


@dataclass
class Totals:
    """Costs summed over every SPU call of the job (each call reports its own RunStats)."""

    online_bytes: int = 0
    offline_bytes: int = 0
    rounds: int = 0
    compile_s: float = 0.0
    run_s: float = 0.0
    calls: int = 0
    per_op: dict[str, Any] = field(default_factory=dict)

    def add(self, stats: Any) -> None:
        from veil.device.simulation import OpCost

        self.online_bytes += stats.online_bytes
        self.offline_bytes += stats.offline_bytes
        self.rounds += stats.rounds
        self.compile_s += stats.compile_s
        self.run_s += stats.wall_s
        self.calls += 1
        for name, c in stats.per_op.items():
            t = self.per_op.setdefault(name, OpCost(name))
            for attr in ("calls", "online_bytes", "rounds", "offline_bytes", "seconds"):
                setattr(t, attr, getattr(t, attr) + getattr(c, attr))

    def table(self, rows: int = 5) -> str:
        from veil.device.simulation import RunStats

        return "\n".join(RunStats(per_op=self.per_op).table().splitlines()[: rows + 1])


class ProcessBackend:
    """Party processes through the device API: PYUs for the data owners, one SPU for the compute."""

    mode = "processes"

    def __init__(self, protocol: str, field_name: str) -> None:
        import veil

        parties = ["alice", "bob", "carol"] if protocol == "aby3" else ["alice", "bob"]
        veil.init(parties=parties, address="local", protocol=protocol, field=field_name)
        try:
            # keep_private=False: every input secret-shared up front, the same program the simulator runs
            self.spu = veil.SPU(keep_private=False)
        except BaseException:
            veil.shutdown()
            raise
        self.pyus = {p: veil.PYU(p) for p in parties}
        self.totals = Totals()

    def describe(self) -> str:
        local = getattr(self.spu.runner, "local", None)
        procs = getattr(local, "procs", {})
        return ", ".join(f"{n} (pid {p.pid})" for n, p in procs.items()) or self.names()

    def names(self) -> str:
        return f"processes {', '.join(self.spu.cluster.link_names)}"

    def load(self, party: str, fn: Callable[..., Any], *args: Any, num_returns: int | None = None) -> Any:
        return self.pyus[party](fn, num_returns=num_returns)(*args)

    def share(self, obj: Any) -> Any:
        return obj.to(self.spu)

    def run(self, fn: Callable[..., Any], *args: Any, static: Sequence[str] = (), **kwargs: Any) -> Any:
        out = self.spu(fn, static_argnames=list(static))(*args, **kwargs)
        self.totals.add(self.spu.stats)
        return out

    def reveal(self, obj: Any) -> Any:
        import veil

        return veil.reveal(obj)

    def reveal_to(self, obj: Any, party: str) -> Any:
        return obj.to(self.pyus[party]).data

    def close(self) -> None:
        import veil

        veil.shutdown()


class SimulatorBackend:
    """`veil.jit`: every party as a thread in this process over the in-memory link (same protocol
    code, bytes and rounds; no process isolation). Each call reveals its outputs to the driver."""

    mode = "simulator"

    def __init__(self, protocol: str, field_name: str) -> None:
        self.protocol, self.field = protocol, field_name
        self.totals = Totals()
        self._fns: dict[Any, Any] = {}

    def describe(self) -> str:
        n = 3 if self.protocol == "aby3" else 2
        return f"simulator, {n} parties as threads" + (" + dealer" if self.protocol == "semi2k" else "")

    names = describe

    def load(self, party: str, fn: Callable[..., Any], *args: Any, num_returns: int | None = None) -> Any:
        out = fn(*args)
        return tuple(out) if num_returns else out

    def share(self, obj: Any) -> Any:
        return obj

    def run(self, fn: Callable[..., Any], *args: Any, static: Sequence[str] = (), **kwargs: Any) -> Any:
        import veil

        key = (fn, tuple(static))
        if key not in self._fns:
            self._fns[key] = veil.jit(
                fn, protocol=self.protocol, field=self.field, static_argnames=tuple(static)
            )
        jitted = self._fns[key]
        out = jitted(*args, **kwargs)
        self.totals.add(jitted.stats)
        return out

    def reveal(self, obj: Any) -> Any:
        return obj

    def reveal_to(self, obj: Any, party: str) -> Any:
        return obj

    def close(self) -> None:
        pass


class Ui:
    """Stage lines ("[2/5] sharing inputs ... 0.2 s") and a progress bar per chunk of epochs."""

    def __init__(self, out: Any = None) -> None:
        self.out = out if out is not None else sys.stdout
        self.n = 0
        self._open = False

    def _end_line(self) -> None:
        if self._open:
            self.out.write("\n")
            self._open = False

    def say(self, text: str = "") -> None:
        self._end_line()
        self.out.write(text + "\n")
        self.out.flush()

    @contextlib.contextmanager
    def stage(self, label: str) -> Iterator[None]:
        self.n += 1
        self._end_line()
        self.out.write(f"[{self.n}/{STAGES}] {label} ...")
        self.out.flush()
        self._open = True
        start = time.perf_counter()
        yield
        took = time.perf_counter() - start
        if self._open:
            self.out.write(f" {took:.1f} s\n")
            self._open = False
        else:
            self.out.write(f"      done in {took:.1f} s\n")
        self.out.flush()

    def progress(self, done: int, total: int, seconds: float, note: str = "") -> None:
        width = 20
        bar = "#" * round(width * done / total) + "." * (width - round(width * done / total))
        self.say(f"      epoch {done:>3}/{total} [{bar}] {seconds:5.1f} s{note}")


def start_backend(args: argparse.Namespace, ui: Ui) -> tuple[Any, float, str | None]:
    """The party processes, or the simulator (asked for, or as the fallback). -> (backend, s, why)."""
    start = time.perf_counter()
    if args.simulate:
        with ui.stage("simulator (--simulate): every party is a thread in this process"):
            backend: Any = SimulatorBackend(args.protocol, args.field)
        return backend, time.perf_counter() - start, "--simulate"
    with ui.stage("starting the parties as local processes"):
        try:
            backend = ProcessBackend(args.protocol, args.field)
            ui.say(f"      {backend.describe()}")
            return backend, time.perf_counter() - start, None
        except Exception as e:  # anything at all: the demo must still run on a fresh machine
            reason = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            ui.say(f"      could not start party processes ({reason})")
            ui.say("      NOTE: falling back to the in-process simulator (veil.jit): the same protocols,")
            ui.say(
                "      bytes and rounds, but every party is a thread here (use --simulate to skip processes)"
            )
            return SimulatorBackend(args.protocol, args.field), time.perf_counter() - start, reason


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="veil demo", description=__doc__.split("\n\n")[0])
    p.add_argument("--job", choices=["lr", "mlp", "bert"], default="lr",
                   help="lr: logistic regression (default); mlp: SecretFlow's MLP tutorial; "
                        "bert: secure all-MiniLM-L6-v2 sentence embedding")  # fmt: skip
    p.add_argument("--protocol", choices=["semi2k", "aby3"], default="semi2k",
                   help="semi2k: 2 parties + dealer; aby3: 3 parties (carol computes, holds no data)")  # fmt: skip
    p.add_argument("--field", choices=["FM64", "FM128"], default="FM64")
    p.add_argument(
        "--epochs", type=int, default=None, help="training epochs (lr: 10, mlp: 5; the tutorial: 10)"
    )
    p.add_argument("--simulate", action="store_true", help="run on the in-process simulator, not processes")
    p.add_argument("--text", default=None, help="--job bert: the sentence to embed")
    return p


def _header(args: argparse.Namespace, ui: Ui) -> None:
    from veil.demo_jobs import TRAIN_JOBS

    if args.job == "bert":
        ui.say("veil demo: secure BERT sentence embedding (all-MiniLM-L6-v2, real weights)")
        ui.say(f"  bob: the model weights | alice: the sentence | {args.protocol} on {args.field}")
        return
    ui.say(f"veil demo: secure {TRAIN_JOBS[args.job].title} on vertically split breast-cancer data")
    ui.say(
        f"  alice: 15 feature columns | bob: 15 feature columns + labels | {args.protocol} on {args.field}"
    )
    if args.job == "mlp" and args.epochs is None:
        ui.say("  (5 epochs, ~15 s each on 2 cores; the tutorial trains 10: --epochs 10)")


def _summary(result: dict[str, Any], totals: Totals, ui: Ui) -> None:
    metric = result["metric"]
    ui.say()
    ui.say(f"results ({result['parties']}; {result['detail']})")
    if metric == "AUC":
        ui.say(f"  plaintext AUC {result['plaintext']:.4f}   secure AUC {result['secure']:.4f}   "
               f"(max |model - plaintext model| {result['max_param_error']:.1e})")  # fmt: skip
    else:
        ui.say(
            f"  {metric} {result['secure']:.5f}   (max |secure - plaintext| {result['max_param_error']:.1e})"
        )
    startup = f" + {result['startup_s']:.1f} s starting the parties" if result["mode"] == "processes" else ""
    ui.say(f"  time     {result['secure_s']:.1f} s secure (of which compile {totals.compile_s:.1f} s, "
           f"{totals.calls} SPU call{'s' if totals.calls > 1 else ''}){startup}")  # fmt: skip
    dealer = (
        f"offline {totals.offline_bytes / 1e6:.2f} MB from the dealer"
        if result["protocol"] == "semi2k"
        else "no dealer"
    )
    ui.say(f"  traffic  online {totals.online_bytes / 1e6:.2f} MB between the compute parties, {dealer}")
    ui.say(f"  rounds   {totals.rounds}")
    ui.say("  most expensive ops (summed over the SPU calls):")
    for line in totals.table().splitlines():
        ui.say("    " + line)
    if result["fallback"] and result["fallback"] != "--simulate":
        ui.say(f"  NOTE: ran on the simulator because party processes could not start ({result['fallback']})")


def run(argv: Sequence[str] | None = None, out: Any = None) -> dict[str, Any]:
    """Run the demo; returns the numbers it printed (plaintext / secure metric, time, bytes, rounds)."""
    from veil.demo_jobs import DEFAULT_TEXT, TRAIN_JOBS, run_bert, run_training

    parser = _parser()
    args = parser.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"--epochs must be >= 1, got {args.epochs}")
    ui = Ui(out)
    _header(args, ui)
    backend, startup_s, fallback = start_backend(args, ui)
    try:
        if args.job == "bert":
            result = run_bert(backend, ui, args.text or DEFAULT_TEXT)
        else:
            job = TRAIN_JOBS[args.job]
            result = run_training(job, backend, ui, args.epochs or job.default_epochs)
        parties = backend.names()
    finally:
        backend.close()
    t = backend.totals
    result.update(
        job=args.job, mode=backend.mode, protocol=args.protocol, field=args.field, parties=parties,
        startup_s=startup_s, fallback=fallback, online_bytes=t.online_bytes,
        offline_bytes=t.offline_bytes, rounds=t.rounds, compile_s=t.compile_s,
    )  # fmt: skip
    _summary(result, t, ui)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """`veil demo` / `python -m veil.demo`: exit status 0 on success."""
    run(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
