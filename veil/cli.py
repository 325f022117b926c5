"""The `veil` command: `veil demo`, `veil bench ops`, `veil node --config c.yaml --party alice` (see `veil --help`)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["node"]:  # dispatched before parsing, so that `veil node --help` shows the node's options
        from veil.device.node import main as node_main

        return node_main(argv[1:])
    parser = argparse.ArgumentParser(prog="veil", description="privacy-preserving ML on secret shares")
    parser.add_argument("command", choices=["demo", "bench", "node"], help="what to run")
    args, rest = parser.parse_known_args(argv)
    if args.command == "demo":
        from veil.demo import main as demo_main

        return demo_main(rest)
    from veil.bench import main as bench_main

    return bench_main(rest)


if __name__ == "__main__":
    sys.exit(main())
