"""The `veil` command: `veil demo`, `veil bench ops`, `veil node --config c.yaml --party alice` (see `veil --help`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from importlib import import_module

# subcommand -> module whose `main(argv) -> int` runs it; each parses its own options and --help
COMMANDS = {
    "demo": ("veil.demo", "secure training demo on local party processes"),
    "bench": ("veil.bench", "operator benchmark, optionally side by side with SecretFlow SPU"),
    "node": ("veil.device.node", "run one party node of a cluster"),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] and argv[0] in COMMANDS:
        run: Callable[[list[str]], int] = import_module(COMMANDS[argv[0]][0]).main
        return run(argv[1:])
    parser = argparse.ArgumentParser(
        prog="veil",
        description="privacy-preserving ML on secret shares",
        epilog="\n".join(f"  {name:<6} {help}" for name, (_, help) in COMMANDS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=list(COMMANDS), help="what to run (then --help for its options)")
    parser.parse_args(argv)
    return 2


if __name__ == "__main__":
    sys.exit(main())
