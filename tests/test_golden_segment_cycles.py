"""golden.hwmodel.cycles: the stream form's timing contract, by hand."""

import numpy as np
import pytest

from golden.hwmodel.cycles import segment_cycles, segment_symbols


def test_one_pe_by_hand():
    """One PE, depth 4. Activation 0 pushed in cycle 0, taken in 1, in M in
    2, P1 in 3, R in 4; the slot stepping in 4 takes it and decodes its three
    symbols in 4, 6, 8. Activation 1 (pushed in 1, taken in 2, M 3, P1 4,
    R 5) goes to the other slot in 5: symbols in 5 and 7. Done in 9."""
    sym = np.array([[3, 2]])
    c = segment_cycles(sym, np.array([[2, 2]]), np.array([1, 1]), depth=4)
    assert (c.mac_cycles, c.useful_macs, c.entries) == (9, 4, 5)


def test_empty_segments_cost_only_their_take():
    """Empty segments are taken one per cycle and end there; the scanner,
    done after examining the last activation in 5, decides the end."""
    sym = np.zeros((1, 6), np.int64)
    c = segment_cycles(sym, sym, np.ones(6), depth=2)
    assert c.mac_cycles == 6 and c.useful_macs == 0
    # Behind a long column an empty segment waits in the queue; the column ends later.
    c = segment_cycles(np.array([[9, 0]]), np.array([[9, 0]]), np.ones(2), depth=2)
    assert c.mac_cycles == 4 + 2 * 8 + 1


def test_a_third_column_waits_for_a_slot():
    """Three long columns: the third reaches R in 6 and waits for the first
    slot (busy in 4, 6, ..., 4 + 2 * 9) to free in 24."""
    sym = np.array([[10, 10, 1]])
    c = segment_cycles(sym, sym, np.ones(3), depth=8)
    # Column 1's slot steps in 5 .. 23; column 2 starts in 24, done in 25.
    assert c.mac_cycles == 25


def test_zero_activations_are_skipped_and_scanned():
    sym = np.array([[4, 4, 4, 4]])
    c = segment_cycles(sym, sym, np.array([0, 0, 0, 5]), depth=2)
    # Activation 3 pushed in 3, taken in 4, R in 7: symbols in 7, 9, 11, 13.
    assert c.mac_cycles == 14 and c.useful_macs == 4


def test_symbols_count_padding():
    codes = np.zeros((20, 2), np.int64)
    codes[19, 0] = 3                 # 19 zero rows before it: 2 paddings of gap 7
    codes[0, 1] = 1
    sym, real = segment_symbols(codes, 1, 3)
    assert sym.tolist() == [[3, 1]] and real.tolist() == [[1, 1]]
    with pytest.raises(ValueError):
        segment_cycles(sym, real, np.ones(3), depth=1)
