"""The boards Zipcore builds for, and the engine configuration each one gets."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Board", "BOARDS", "board_engine_params"]


@dataclass(frozen=True)
class Board:
    name: str
    label: str
    device: str          # boards.synth device name
    platform: str        # amaranth_boards module:class
    pes: int             # default PEs
    freq_mhz: float      # default core clock (the PLL's target)
    baud: int            # UART
    entry_ram: str | None


BOARDS = {
    "icebreaker": Board("icebreaker", "iCEBreaker (iCE40 UP5K)", "up5k",
                        "amaranth_boards.icebreaker:ICEBreakerPlatform", 4, 48.0, 115200,
                        "spram"),
    "ulx3s-85f": Board("ulx3s-85f", "ULX3S-85F (ECP5-85F)", "ecp5-85f",
                       "amaranth_boards.ulx3s:ULX3S_85F_Platform", 16, 125.0, 115200, None),
    "orangecrab-25f": Board("orangecrab-25f", "OrangeCrab r0.2 (ECP5-25F)", "ecp5-25f",
                            "amaranth_boards.orangecrab_r0_2:OrangeCrabR0_2_25FPlatform", 4,
                            80.0, 115200, None),
}


def board_engine_params(board: Board, zm, *, pes: int | None = None,
                        queue_depth: int = 8) -> dict:
    """``hw.engine.Engine`` parameters for ``board``, sized to hold ``zm``."""
    from hw.engine import engine_params  # noqa: PLC0415

    return engine_params(zm, n_pe=pes or board.pes, queue_depth=queue_depth,
                         entry_ram=board.entry_ram)
