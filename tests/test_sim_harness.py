"""The shared harness proves itself on both simulators with a stream Queue."""

import pytest

from hw.queue import Queue
from sim.harness import SimulatorMissing, run_cocotb, write_if_changed


def _run(sim, **kw):
    try:
        return run_cocotb(**kw, sim=sim)
    except SimulatorMissing as e:
        if sim == "icarus":
            pytest.skip(str(e))
        raise


@pytest.mark.cocotb
@pytest.mark.parametrize("sim", ["verilator", "icarus"])
@pytest.mark.parametrize("width,depth", [(8, 2), (13, 5)], ids=["w8_d2", "w13_d5"])
def test_queue(sim, width, depth, tmp_path):
    # Not "queue": Verilator's rebuild would find the old executable ./queue as <queue>.
    r = _run(sim, component=Queue(width, depth), toplevel="stream_queue",
             test_module="sim.tb.tb_queue",
             params={"width": width, "depth": depth, "seed": width * depth},
             case=f"w{width}_d{depth}")
    assert r.tests == 2 and r.failed == 0


@pytest.mark.cocotb
@pytest.mark.parametrize("sim", ["verilator", "icarus"])
def test_waves(sim, tmp_path):
    r = _run(sim, component=Queue(8, 2), toplevel="stream_queue",
             test_module="sim.tb.tb_queue",
             params={"width": 8, "depth": 2, "count": 20}, case="waves", waves=True,
             build_root=tmp_path, testcase="queue_keeps_order_under_stalls")
    assert r.waves is not None and r.waves.stat().st_size > 0


@pytest.mark.cocotb
def test_failing_testbench_fails_pytest(tmp_path):
    # A Queue of depth 2 cannot hold depth+... the back-pressure test asserts depth=3 accepted
    with pytest.raises(AssertionError, match="cocotb tests failed"):
        run_cocotb(Queue(8, 2), "stream_queue", "sim.tb.tb_queue", sim="verilator",
                   params={"width": 8, "depth": 3}, case="lie", build_root=tmp_path,
                   testcase="queue_fills_and_back_pressures")


def test_write_if_changed_keeps_mtime(tmp_path):
    f = tmp_path / "x.v"
    assert write_if_changed(f, "a")
    t = f.stat().st_mtime_ns
    assert not write_if_changed(f, "a")
    assert f.stat().st_mtime_ns == t
    assert write_if_changed(f, "b")


def test_queue_rejects_bad_depth():
    with pytest.raises(TypeError):
        Queue(8, 1)
