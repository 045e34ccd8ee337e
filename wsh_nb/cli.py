"""The ``wsh-nb`` command: ``serve`` (a wire-protocol server and hub) and ``demo`` (the local tour)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wsh-nb", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    from .server import serve as serve_mod

    serve_parser = sub.add_parser("serve", help="run a wsh-compatible server (and hub)")
    serve_mod.add_arguments(serve_parser)
    demo_parser = sub.add_parser("demo", help="start a local 3-backend cluster and run the seed's workflows")
    demo_parser.add_argument("--fast", action="store_true", help="shorter waits (for tests)")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve_mod.run(args)
    from .demo import run as run_demo

    return run_demo(args)


if __name__ == "__main__":
    sys.exit(main())
