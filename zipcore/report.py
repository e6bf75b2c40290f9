"""``zipcore report``: energy, area and compression of a ``.zcm`` model, readable."""

from __future__ import annotations

from golden.hwmodel.image import ImageError
from golden.zcm import ZcmError

from .compress import write_json
from .errors import UserError
from .models import read_fc_model, test_split

__all__ = ["cmd_report", "add_parser"]


def cmd_report(args) -> int:
    from reports.energy import EnergyError  # noqa: PLC0415
    from reports.report import BOARDS, build_report, write_report  # noqa: PLC0415

    if args.pes < 1 or args.pes > 64:
        raise UserError(f"--pes must be in 1..64, not {args.pes}")
    boards = args.board or ["icebreaker"]
    for b in boards:
        if b not in BOARDS:
            raise UserError(f"unknown board {b!r} (one of: {', '.join(BOARDS)})")
    zm = read_fc_model(args.model, ("shared",), "the report covers")
    x, y, _ = test_split(zm, args.dataset)
    try:
        r = build_report(zm, x, y, n_pe=args.pes,
                         table_path=args.constants, boards=boards)
    except (EnergyError, ZcmError, ImageError) as e:
        raise UserError(str(e)) from None
    paths = write_report(r, args.output)
    if args.json:
        write_json(args.json, r)
    e = r["energy"]
    print(f"{args.model}: dense FP32 {e['dense_fp32_pj'] / 1e6:.3f} uJ, compressed "
          f"{e['compressed_pj'] / 1e6:.4f} uJ per inference ({e['ratio']:.1f}x less energy); "
          f"{r['storage']['ratio']['PQH']:.1f}x smaller")
    print(f"report: {paths['html']} (and {paths['md'].name}, {paths['json'].name}, "
          f"{len(paths['figures'])} figures)")
    return 0


def add_parser(sub):
    r = sub.add_parser("report", help="energy, area and compression report of a .zcm model "
                                      "(HTML, Markdown, PNG, JSON)")
    r.add_argument("model", help="the .zcm file")
    r.add_argument("-o", "--output", required=True, help="folder for the report")
    r.add_argument("--board", action="append", metavar="BOARD",
                   help="icebreaker | ulx3s-85f (repeatable; default icebreaker)")
    r.add_argument("--dataset", help="digits | digits28 | mnist:DIR (default: the model's)")
    r.add_argument("--pes", type=int, default=4, metavar="N", help="engine PEs (default 4)")
    r.add_argument("--constants", metavar="FILE", help="JSON file overriding energy/area "
                                                       "constants")
    r.add_argument("--json", metavar="FILE", help="also write the report's JSON here")
    r.set_defaults(func=cmd_report)
