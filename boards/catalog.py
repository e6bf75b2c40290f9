"""The boards Zipcore builds for, and the engine configuration each one gets."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Board", "BOARDS", "board_engine_params", "board_form"]


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
    queue_depth: int     # activations each PE's queue holds
    pipelined: bool      # SparsePE's pipelined form (memory outputs registered)
    # The memory image form its engine runs (fully connected models). The
    # ULX3S's 16-PE stream engine does not get through YoWASP Yosys's synthesis
    # (an uncaught exception after memory mapping), so it runs expanded.
    form: str = "expanded"


BOARDS = {
    "icebreaker": Board("icebreaker", "iCEBreaker (iCE40 UP5K)", "up5k",
                        "amaranth_boards.icebreaker:ICEBreakerPlatform", 4, 27.0, 115200,
                        "spram", 4, False),
    "ulx3s-85f": Board("ulx3s-85f", "ULX3S-85F (ECP5-85F)", "ecp5-85f",
                       "amaranth_boards.ulx3s:ULX3S_85F_Platform", 16, 125.0, 115200, None, 8,
                       True),
    "orangecrab-25f": Board("orangecrab-25f", "OrangeCrab r0.2 (ECP5-25F)", "ecp5-25f",
                            "amaranth_boards.orangecrab_r0_2:OrangeCrabR0_2_25FPlatform", 4,
                            80.0, 115200, None, 8, True, "stream"),
}


def board_form(board: Board, zm, form: str | None = None) -> str:
    """The image form ``board``'s engine runs ``zm`` in: ``form`` if given, else
    the board's (the ECP5 boards': the stream form), except that a model with
    convolutions runs expanded (the stream form runs fully connected layers)."""
    if form is not None:
        return form
    return "expanded" if any(ly.kind != "fc" for ly in zm.layers) else board.form


def board_engine_params(board: Board, zm, *, pes: int | None = None,
                        queue_depth: int | None = None, form: str | None = None) -> dict:
    """``hw.engine.Engine`` parameters for ``board``, sized to hold ``zm``, in
    the image form ``board_form`` picks. The iCEBreaker's queues are 4 deep (its
    4 PEs lose nothing to it: ``bench/engine.py`` measures utilisation against
    depth), which spares ~270 of its 5280 LCs."""
    from hw.engine import engine_params  # noqa: PLC0415

    form = board_form(board, zm, form)
    return engine_params(zm, n_pe=pes or board.pes, queue_depth=queue_depth or board.queue_depth,
                         entry_ram=board.entry_ram, pipelined=board.pipelined and form != "stream",
                         form=form)
