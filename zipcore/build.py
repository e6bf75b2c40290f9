"""``zipcore build``: a board's bitstream with the open tools, and nextpnr's figures."""

from __future__ import annotations

from pathlib import Path

from golden.zcm import ZcmError, read_zcm

from .compress import write_json
from .errors import UserError

__all__ = ["cmd_build", "add_parser", "DEFAULT_MODEL"]

DEFAULT_MODEL = Path("build") / "digits-mlp.zcm"

def cmd_build(args) -> int:
    from boards.build import BuildError, build_board, build_closing, resources  # noqa: PLC0415
    from boards.catalog import BOARDS, board_engine_params  # noqa: PLC0415

    board = BOARDS.get(args.board)
    if board is None:
        raise UserError(f"unknown board {args.board!r} (one of: {', '.join(BOARDS)})")
    if args.pes is not None and not 1 <= args.pes <= 64:
        raise UserError(f"--pes must be in 1..64, not {args.pes}")
    freq = board.freq_mhz if args.freq is None else args.freq
    if not 1 <= freq <= 400:
        raise UserError(f"--freq must be in 1..400 MHz, not {freq:g}")
    model = Path(args.model) if args.model else DEFAULT_MODEL
    try:
        zm = read_zcm(model)
    except ZcmError as e:
        hint = (" (make it with: zipcore compress builtin:digits-mlp -o build/digits-mlp.zcm)"
                if not args.model else "")
        raise UserError(f"{model}: {e}{hint}") from None
    try:
        params = board_engine_params(board, zm, pes=args.pes, form=args.form)
    except ValueError as e:
        raise UserError(str(e)) from None
    # Without --freq, the board's clock, or if it misses timing, the highest PLL
    # clock below the Fmax nextpnr achieved (a bitstream that closes timing).
    attempts = None
    try:
        if args.freq is None:
            r, attempts = build_closing(board, params, freq_mhz=freq, build_root=args.build_dir,
                                        progress=lambda msg: print(f"  {msg}", flush=True))
        else:
            r = build_board(board, params, freq_mhz=freq, build_root=args.build_dir)
    except BuildError as e:
        raise UserError(str(e)) from None
    res = resources(r.utilization)
    rep = {**r.as_dict(), "label": board.label, "model": str(model), "resources": res}
    if attempts is not None:
        rep["attempts"] = attempts
    if args.json:
        write_json(args.json, rep)
    if not r.fits:
        need = ", ".join(f"{v['used']} of {v['available']} {k}s" for k, v in res.items()
                         if v["used"] > v["available"])
        raise UserError(f"the {params['n_pe']}-PE engine for {model.name} does not fit the "
                        f"{board.label}: it needs {need} (nextpnr, log in {r.build_dir})")
    if r.error:
        raise UserError(f"the build failed: {r.error} (log in {r.build_dir})")
    print(f"{board.label}: {params['n_pe']} PEs, {model.name} resident"
          f"{' (cached build)' if r.cached else ''}")
    for clk, got in r.fmax_mhz.items():
        want = r.constraint_mhz[clk]
        print(f"  clock {clk}: {got:.1f} MHz achieved, {want:.1f} MHz requested: "
              f"timing {'met' if got >= want else 'NOT met'}")
    for name, v in res.items():
        print(f"  {name:7s} {v['used']:6d} of {v['available']}")
    print(f"  bitstream: {r.bitstream}")
    return 0 if r.timing_met else 1


def add_parser(sub):
    b = sub.add_parser("build", help="build a board's bitstream (YoWASP Yosys/nextpnr) and "
                                     "report nextpnr's figures")
    b.add_argument("--board", required=True, help="icebreaker | ulx3s-85f | orangecrab-25f")
    b.add_argument("--form", choices=("expanded", "stream"),
                   help="the memory image form the engine runs (default: the board's: stream "
                        "on the OrangeCrab for fully connected models, else expanded)")
    b.add_argument("--pes", type=int, metavar="N", help="processing elements (default: the "
                                                        "board's)")
    b.add_argument("--freq", type=float, metavar="MHZ",
                   help="core clock the PLL makes (default: the board's, or if the design "
                        "misses it, the highest PLL clock below the Fmax it achieves)")
    b.add_argument("--model", metavar="FILE.zcm", help="the model the engine is sized for "
                                                       f"(default {DEFAULT_MODEL})")
    b.add_argument("--build-dir", metavar="DIR", help="where builds are cached (default "
                                                      "build/boards)")
    b.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    b.set_defaults(func=cmd_build)
