"""``zipcore verify``: the default digits model on the iCEBreaker's UART top in
simulation (the host code a board gets, over a simulated serial line), and its
one-line refusals."""

import json
import os
import threading

import pytest

from sim.tools import find_simulator
from tests.test_cli import run
from zipcore.verify import built_clock


@pytest.mark.cocotb
def test_verify_on_the_icebreaker_top_through_its_simulated_uart(digits_zcm, tmp_path):
    from boards.catalog import BOARDS

    if find_simulator("verilator") is None:
        pytest.skip("verilator is not installed")
    js = tmp_path / "v.json"
    r = run("verify", str(digits_zcm), "--sim", "--board", "icebreaker", "--limit", "3",
            "--json", str(js))
    assert r.returncode == 0, r.stderr
    rep = json.loads(js.read_text())
    assert (rep["images"], rep["mismatches"], rep["board"]) == (3, 0, "icebreaker")
    assert rep["accuracy"] == rep["golden_accuracy"]
    # At the clock of the newest iCEBreaker build, else the board's default.
    assert rep["clock_mhz"] == built_clock(BOARDS["icebreaker"])
    assert rep["inferences_per_second"] == pytest.approx(rep["clock_mhz"] * 1e6
                                                         / rep["cycles_per_inference"])


def test_verify_counts_time_at_the_clock_of_the_newest_build(tmp_path):
    """``zipcore build`` may lower a board's clock to close timing: ``verify``
    takes the clock of the newest build of the board (its ``report.json``),
    and the board's default when there is none or it predates ``clock_mhz``."""
    import time

    from boards.catalog import BOARDS

    board = BOARDS["ulx3s-85f"]
    assert built_clock(board, tmp_path) == board.freq_mhz
    for name, clock in (("ulx3s-85f-aaaa", None), ("ulx3s-85f-bbbb", 112.5),
                        ("icebreaker-cccc", 27.0)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "report.json").write_text(json.dumps({"clock_mhz": clock}))
        time.sleep(0.01)
    assert built_clock(board, tmp_path) == 112.5
    os.utime(tmp_path / "ulx3s-85f-aaaa" / "report.json")      # now the newest
    assert built_clock(board, tmp_path) == board.freq_mhz


@pytest.mark.parametrize("args,message", [
    (["M.zcm"], "give --port DEVICE"),
    (["M.zcm", "--sim", "--port", "/dev/null"], "give --port DEVICE"),
    (["M.zcm", "--sim", "--board", "nexys"], "unknown board 'nexys'"),
    (["MISSING.zcm", "--sim"], "cannot read"),
])
def test_verify_user_errors_are_one_line(tmp_path, args, message):
    r = run("verify", *[str(tmp_path / a) if a.endswith(".zcm") else a for a in args])
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def _fake_board(answer: bytes | None):
    """A pseudo-terminal standing in for a board: silent, or answering ``answer``
    to whatever it is sent."""
    master, slave = os.openpty()

    def serve():
        try:
            while os.read(master, 1024):
                if answer is not None:
                    os.write(master, answer)
        except OSError:
            pass

    threading.Thread(target=serve, daemon=True).start()
    return os.ttyname(slave), (master, slave)


@pytest.mark.parametrize("answer,message", [
    (None, "sent nothing within 0.3 s"),
    (b"\xee" * 17, "answered 0xee, not a status byte"),
    (b"\x00\x09" + bytes(15), "speaks protocol 9"),
])
def test_a_board_that_is_silent_or_speaks_garbage_is_a_clear_error(digits_zcm, answer, message):
    port, fds = _fake_board(answer)
    try:
        r = run("verify", str(digits_zcm), "--port", port, "--timeout", "0.3")
    finally:
        for fd in fds:
            os.close(fd)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_a_port_that_does_not_exist(digits_zcm, tmp_path):
    r = run("verify", str(digits_zcm), "--port", str(tmp_path / "ttyNOPE"))
    assert r.returncode == 2 and "cannot open" in r.stderr and "Traceback" not in r.stderr


def test_a_dataset_of_other_inputs_is_refused_in_one_line(digits_zcm):
    r = run("verify", str(digits_zcm), "--sim", "--dataset", "digits28")
    assert r.returncode == 2 and "the model takes 64 inputs but digits28 has 784" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
