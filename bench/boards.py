"""Board builds of the engine sized for the default digits model: each board's
bitstream through ``zipcore build`` (nextpnr's achieved Fmax and resources),
and the digits model's inferences per second at the achieved clock (cycles
per inference from the RTL on Verilator, in the board's PE form, 20 test
images, engine time only).
A board whose engine does not fit is recorded with what nextpnr said it
needs (``fits`` 0).

Writes bench/results/boards.json. Run: ``.venv/bin/python bench/boards.py``
(5-15 minutes; builds are cached)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, write_results  # noqa: E402
from boards.build import build_board, resources  # noqa: E402
from boards.catalog import BOARDS, board_engine_params  # noqa: E402


def main():
    from bench.engine import _digits_model  # noqa: PLC0415
    from golden.data import load  # noqa: PLC0415
    from zipcore.simulate import simulate_report  # noqa: PLC0415

    zm = _digits_model()
    d = load("digits")
    metrics, rows = {}, []
    for name in ("icebreaker", "ulx3s-85f", "orangecrab-25f"):
        board = BOARDS[name]
        params = board_engine_params(board, zm)
        r = build_board(board, params, freq_mhz=board.freq_mhz)
        res = resources(r.utilization)
        key = name.replace("-", "_")
        lc = res.get("LC/LUT", {}).get("used", 0)
        metrics.update({f"boards.{key}.fits": int(r.fits), f"boards.{key}.lc": lc,
                        f"boards.{key}.dsp": res.get("DSP", {}).get("used", 0),
                        f"boards.{key}.ebr": res.get("EBR", {}).get("used", 0),
                        f"boards.{key}.mac_lanes": params["n_pe"],
                        f"boards.{key}.target_mhz": board.freq_mhz})
        fmax = min(r.fmax_mhz.values()) if r.fmax_mhz and r.fits else None
        ips = None
        if fmax:
            rep = simulate_report(zm, d.x_test[:20], d.y_test[:20], sim="verilator",
                                  n_pe=params["n_pe"], queue_depth=params["queue_depth"],
                                  pipelined=board.pipelined)
            ips = fmax * 1e6 / rep["cycles_per_inference"]
            metrics.update({f"boards.{key}.fmax_mhz": round(fmax, 1),
                            f"boards.{key}.timing_met": int(r.timing_met),
                            f"boards.{key}.cycles_per_inference":
                                round(rep["cycles_per_inference"], 1),
                            f"boards.{key}.inferences_per_second": round(ips)})
        rows.append((name, params["n_pe"], f"{board.freq_mhz:g}",
                     f"{fmax:.1f}" if fmax else "-", "yes" if r.fits else "no",
                     f"{lc}/{res.get('LC/LUT', {}).get('available', '?')}",
                     res.get("DSP", {}).get("used", "-"), res.get("EBR", {}).get("used", "-"),
                     f"{ips:.0f}" if ips else "-"))
    path = write_results("boards", metrics)
    print_table(rows, ("board", "PEs", "target MHz", "Fmax MHz", "fits", "LC/LUT", "DSP",
                       "EBR", "inferences/s"))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
