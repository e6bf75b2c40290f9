"""golden.hwmodel.cycles: the engine's cycle model, checked by hand on small cases."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from golden.hwmodel.cycles import column_entries, layer_cycles, spmv_cycles, xnor_cycles


def test_column_entries_count_padding_where_it_lands():
    # One PE, 2 rows; column-major order: col0 = (1, 0), col1 = (0, 0), col2 = (0, 0),
    # col3 = (0, 2). With 2-bit gaps (at most 3 zeros) the 5 zeros before the 2
    # need a padding entry, which lands at position 4 (column 2).
    codes = np.array([[1, 0, 0, 0], [0, 0, 0, 2]])
    stored, real = column_entries(codes, 1, 2)
    assert stored.tolist() == [[1, 0, 1, 1]]
    assert real.tolist() == [[1, 0, 0, 1]]
    # Two PEs take rows 0 and 1.
    stored, real = column_entries(codes, 2, 2)
    assert stored.tolist() == [[1, 0, 0, 0], [0, 0, 0, 1]]


def entries(cols):
    e = np.array([cols])
    return e, e


def test_one_pe_queue_depth_one_by_hand():
    # Pushes at 0, 2, 4 (each waits for the previous pop), pops at 1, 3, 5;
    # columns take 2, 1, 3 cycles: the last ends at cycle 8.
    c = spmv_cycles(*entries([2, 1, 3]), np.array([1, 1, 1]), depth=1)
    assert (c.mac_cycles, c.useful_macs, c.entries) == (8, 6, 6)
    # Depth 2: pushes at 0, 1, 2; pops at 1, 3, 4; the last ends at 7.
    assert spmv_cycles(*entries([2, 1, 3]), np.array([1, 1, 1]), depth=2).mac_cycles == 7


def test_pipelined_pes_fetch_pointers_two_ahead_by_hand():
    # Depth 1. Activation 0: pushed 0, popped 1, passed to B 2, starts 3, 2 cycles.
    # 1: pushed 2 (after pop 1), popped 3, B at 4, starts 5 (column 0 done), 1 cycle.
    # 2: pushed 4, popped 5, B at 6, starts 7, 3 cycles: ends at 10.
    c = spmv_cycles(*entries([2, 1, 3]), np.array([1, 1, 1]), depth=1, pipelined=True)
    assert (c.mac_cycles, c.useful_macs, c.entries) == (10, 6, 6)
    # Depth 2. 0: pushed 0, popped 1, B 2, starts 3 (ends 5). 1: pushed 1, popped 2, B 3,
    # starts 5. 2: pushed 2 (after pop 1), popped 3, waits in A until B's column
    # starts at 5, starts 6, 3 cycles: ends at 9.
    c = spmv_cycles(*entries([2, 1, 3]), np.array([1, 1, 1]), depth=2, pipelined=True)
    assert c.mac_cycles == 9


def test_zero_activations_are_skipped_or_decoded_by_mode():
    e = entries([2, 5, 3])
    x = np.array([1, 0, 1])
    # Expanded: push 0 (pop 1, 2 cycles), column 1 examined in cycle 1, push of
    # column 2 in cycle 2, pop at 3, 3 cycles: ends at 6; 5 useful MACs.
    c = spmv_cycles(*e, x, depth=4, mode="expanded")
    assert (c.mac_cycles, c.useful_macs, c.ideal) == (6, 5, 5)
    # Stream: column 2 costs its 3 entries plus column 1's 5 dropped ones.
    c = spmv_cycles(*e, x, depth=4, mode="sequential")
    assert (c.mac_cycles, c.useful_macs, c.entries) == (11, 5, 10)


def test_padding_entries_cost_cycles_only_in_sequential_mode():
    # Column 1 holds a padding entry and no weight; column 2 one weight.
    stored, real = np.array([[1, 1, 1]]), np.array([[1, 0, 1]])
    x = np.ones(3, int)
    assert spmv_cycles(stored, real, x, depth=4, mode="expanded").entries == 3
    c = spmv_cycles(stored, real, x, depth=4, mode="sequential")
    assert (c.entries, c.useful_macs) == (3, 2)
    x = np.array([1, 0, 1])
    assert spmv_cycles(stored, real, x, depth=4, mode="expanded").entries == 2
    assert spmv_cycles(stored, real, x, depth=4, mode="sequential").entries == 3


def test_empty_columns_cost_one_cycle_and_all_zero_input_costs_the_scan():
    assert spmv_cycles(*entries([0, 0, 4]), np.array([3, 3, 3]), depth=8).mac_cycles == 7
    c = spmv_cycles(*entries([2, 2]), np.zeros(2, int), depth=8)
    assert (c.mac_cycles, c.useful_macs, c.utilisation) == (2, 0, 0.0)


def test_a_slow_pe_holds_the_scanner_through_full_queues():
    # PE 0 spends 4 cycles per column, PE 1 one; depth 1 makes PE 1 wait for PE 0.
    stored = np.array([[4, 4, 4], [1, 1, 1]])
    c = spmv_cycles(stored, stored, np.ones(3, int), depth=1)
    assert c.mac_cycles == 13 and c.useful_macs == 15 and c.ideal == 8


@given(st.integers(0, 2**32 - 1), st.integers(1, 4), st.sampled_from(["expanded", "sequential"]))
def test_deeper_queues_never_cost_cycles(seed, n_pe, mode):
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, (12, 10)) * (rng.random((12, 10)) < 0.3)
    x = rng.integers(0, 3, 10)
    cyc = [layer_cycles(codes, x, n_pe=n_pe, depth=d, gap_bits=3, mode=mode).mac_cycles
           for d in (1, 2, 4, 8)]
    assert cyc == sorted(cyc, reverse=True)
    c = layer_cycles(codes, x, n_pe=n_pe, depth=8, gap_bits=3, mode=mode)
    assert c.mac_cycles >= c.ideal


def test_conv_positions_run_back_to_back():
    codes = np.array([[1, 0], [2, 3]])
    x = np.array([[1, 1], [0, 1]])
    one = [layer_cycles(codes, r, n_pe=2, depth=2, gap_bits=4) for r in x]
    both = layer_cycles(codes, x, n_pe=2, depth=2, gap_bits=4)
    assert both.mac_cycles == sum(c.mac_cycles for c in one)
    assert both.useful_macs == 3 + 1


def test_bad_arguments():
    e = entries([1])
    with pytest.raises(ValueError, match="mode"):
        spmv_cycles(*e, np.ones(1), depth=1, mode="fast")
    with pytest.raises(ValueError, match="queue depth"):
        spmv_cycles(*e, np.ones(1), depth=0)
    with pytest.raises(ValueError, match="1 activations expected"):
        spmv_cycles(*e, np.ones(2), depth=1)


def test_xnor_path_by_hand():
    """One PE of 2 rows, queue depth 1; inputs 3 (planes 0, 1) then 13 zeros,
    then -128 (plane 7) alone in a second group of one input. Group 0 is handed
    off when its 15th input is examined (cycle 14); its planes are pushed in 15
    and, the queue's one place freed by the pop in 16, in 17. Group 1's one input
    waits for that last push (hand-off 17); its plane goes in 19, after the pop
    in 18. Each plane costs the PE 2 cycles: pops 16, 18, 20, the end 22."""
    x = np.r_[3, np.zeros(14, int), -128]
    c = xnor_cycles([2], x, depth=1)
    assert (c.mac_cycles, c.useful_macs, c.entries) == (22, 6, 6)
    # No plane at all: the scan alone, one cycle per input.
    assert xnor_cycles([2, 1], np.zeros(31, int), depth=1).mac_cycles == 31
    # A PE without rows still spends a cycle per plane (its empty column).
    assert xnor_cycles([0], x, depth=4).entries == 3
