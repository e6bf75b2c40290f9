"""``zipcore``: one subcommand per job.

Errors a user can cause (bad files, bad options) end with one line on stderr
and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from . import __version__
from .errors import UserError

__all__ = ["main", "UserError"]


def _doctor(args) -> int:
    from .doctor import main as doctor  # noqa: PLC0415

    return doctor(args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="zipcore",
        description="Open hardware for compressed neural networks: golden models, "
                    "Amaranth gateware, cocotb verification and open FPGA builds.")
    p.add_argument("--version", action="version", version=f"zipcore {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    d = sub.add_parser("doctor", help="list every tool of the flow with version and path")
    d.set_defaults(func=_doctor)
    from .build import add_parser as add_build  # noqa: PLC0415
    from .compress import add_parsers  # noqa: PLC0415
    from .report import add_parser as add_report  # noqa: PLC0415
    from .simulate import add_parser as add_simulate  # noqa: PLC0415
    from .verify import add_parser as add_verify  # noqa: PLC0415

    add_parsers(sub)
    add_simulate(sub)
    add_report(sub)
    add_verify(sub)
    add_build(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except UserError as e:
        print(f"zipcore {args.command}: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # Output piped into `head` and closed early: not an error of ours.
        import os  # noqa: PLC0415

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("zipcore: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
