"""``zipcore verify``: a compressed model on a board (or its simulated UART top),
every output compared with the golden model."""

from __future__ import annotations

import asyncio
import sys
import time

import numpy as np

from golden.hwmodel.engine import engine_forward, engine_model, quantize_input
from golden.hwmodel.image import ImageError, memory_image
from golden.hwmodel.protocol import EngineClient, EngineError, LinkError
from golden.zcm import ZcmError

from .errors import UserError
from .models import finish, read_engine_model, test_split

__all__ = ["cmd_verify", "add_parser", "built_clock"]

SIM_DIVISOR = 4          # clock cycles per UART bit on the simulated line


async def _run_board(link, zm, xq):
    client = EngineClient(link)
    info = await client.info()
    try:
        if info.form == "stream":
            image = memory_image(zm, info.n_pe, code_field=info.code_bits,
                                 binary_as_entries=True, form="stream", sym_bits=info.sym_bits)
        else:
            image = memory_image(zm, info.n_pe, code_field=info.code_bits,
                                 binary_as_entries=not info.xnor)
    except (ImageError, ZcmError) as e:
        raise UserError(f"the model does not fit the board's engine: {e}") from None
    await client.load(image)
    outs, counters = [], []
    for x in xq:
        y, c = await client.infer(x)
        outs.append(y)
        counters.append(c)
    return info, np.array(outs), counters


def built_clock(board, build_root=None) -> float:
    """The core clock of ``board``'s newest build (``zipcore build`` may have
    lowered it to close timing), else the board's default clock."""
    from boards.build import latest_build  # noqa: PLC0415

    rep = latest_build(board.name, build_root) or {}
    return rep.get("clock_mhz") or board.freq_mhz


def cmd_verify(args) -> int:
    from boards.catalog import BOARDS, board_engine_params, board_form  # noqa: PLC0415

    if (args.port is None) == (args.sim is None):
        raise UserError("give --port DEVICE (a board) or --sim [verilator|icarus]")
    board = BOARDS.get(args.board)
    if board is None:
        raise UserError(f"unknown board {args.board!r} (one of: {', '.join(BOARDS)})")
    if args.limit is not None and args.limit < 1:
        raise UserError(f"--limit must be at least 1, not {args.limit}")
    zm = read_engine_model(args.model)
    x, y, _ = test_split(zm, args.dataset, args.limit)
    em = engine_model(zm)
    xq = quantize_input(em, x)
    want = engine_forward(em, xq)
    t0 = time.monotonic()
    freq = args.freq or built_clock(board)
    if args.sim:
        from sim.engine import simulate_model  # noqa: PLC0415
        from sim.harness import SimulatorMissing  # noqa: PLC0415

        form = board_form(board, zm)
        try:
            params = board_engine_params(board, zm, form=form)
        except ValueError as e:
            raise UserError(str(e)) from None
        print(f"verifying {len(x)} images on the {board.label} top in {args.sim} ({form} "
              f"image), through its simulated UART...", file=sys.stderr)
        try:
            r = simulate_model(zm, xq, sim=args.sim, n_pe=params["n_pe"],
                               queue_depth=params["queue_depth"], entry_ram=board.entry_ram,
                               pipelined=board.pipelined and form == "expanded",
                               uart_divisor=SIM_DIVISOR, case=f"uart-{board.name}-{form}",
                               form=form)
        except SimulatorMissing as e:
            raise UserError(str(e)) from None
        except AssertionError as e:
            raise UserError(f"the simulated board failed: {str(e).splitlines()[0]}") from None
        got, counters, where = r["outputs"], r["counters"], f"{board.name} top ({args.sim})"
    else:
        from boards.serial_link import SerialLink  # noqa: PLC0415

        try:
            link = SerialLink(args.port, baud=args.baud, timeout=args.timeout)
            try:
                _, got, counters = asyncio.run(_run_board(link, zm, xq))
            finally:
                link.close()
        except (LinkError, EngineError) as e:
            raise UserError(str(e)) from None
        where = f"{board.name} on {args.port}"
    seconds = time.monotonic() - t0
    scale = em.layers[-1].out_scale[None, :]
    pred, gold = np.argmax(got * scale, axis=1), np.argmax(want * scale, axis=1)
    cycles = float(np.mean([c["cycles"] for c in counters]))
    rep = {"board": board.name, "where": where, "images": int(len(xq)),
           "mismatches": int((got != want).any(axis=1).sum()),
           "accuracy": float(np.mean(pred == y)), "golden_accuracy": float(np.mean(gold == y)),
           "cycles_per_inference": cycles, "clock_mhz": freq,
           "inferences_per_second": freq * 1e6 / cycles, "seconds": round(seconds, 2)}
    print(f"{args.model} on {where}: {rep['images']} images, {rep['mismatches']} mismatches")
    print(f"  accuracy {rep['accuracy']:.4f} (golden model {rep['golden_accuracy']:.4f})")
    print(f"  {cycles:.0f} cycles per inference: {rep['inferences_per_second']:.0f} inferences "
          f"per second at {freq:g} MHz (engine time, UART transfers not counted)")
    return finish(rep, args.json, "verify")


def add_parser(sub):
    v = sub.add_parser("verify", help="run a .zcm model on a board over its UART (or on the "
                                      "board top in simulation) and check every output")
    v.add_argument("model", help="the .zcm file")
    v.add_argument("--port", metavar="DEVICE", help="the board's serial port, e.g. /dev/ttyUSB1")
    v.add_argument("--sim", nargs="?", const="verilator", choices=("verilator", "icarus"),
                   help="the board's UART top in simulation instead of a board")
    v.add_argument("--board", default="icebreaker", help="icebreaker | ulx3s-85f | "
                                                         "orangecrab-25f (default icebreaker)")
    v.add_argument("--baud", type=int, default=115200)
    v.add_argument("--timeout", type=float, default=2.0, metavar="S",
                   help="seconds to wait for an answer (default 2)")
    v.add_argument("--freq", type=float, metavar="MHZ",
                   help="the core clock, for inferences per second (default: the clock of "
                        "the board's newest build under build/boards, else the board's)")
    v.add_argument("--dataset", help="digits | digits28 | mnist:DIR (default: the model's)")
    v.add_argument("--limit", type=int, metavar="N", help="the first N test images only")
    v.add_argument("--json", metavar="FILE", help="write the report as JSON")
    v.set_defaults(func=cmd_verify)
