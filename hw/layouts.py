"""Payload layouts shared by the decoder and compute components.

Layouts are functions of the widths because the widths are elaboration
parameters; each returns a ``data.StructLayout`` whose first field is the
least significant (Amaranth's packing), so a flat bus value is
``field0 | field1 << width0 | ...``.
"""

from amaranth.hdl import signed, unsigned
from amaranth.lib import data

__all__ = ["entry_layout", "indexed_layout", "lanes_layout", "weighted_layout",
           "segment_layout", "table_entry_layout", "GAP_FIELD"]

#: Width of the gap in a stream PE's symbol table (``gap_bits`` is at most 8).
GAP_FIELD = 8


def entry_layout(gap_bits: int, value_bits: int) -> data.StructLayout:
    """A relative-index entry: ``value`` (0 = padding) and the ``gap`` before it."""
    return data.StructLayout({"value": unsigned(value_bits), "gap": unsigned(gap_bits)})


def indexed_layout(index_bits: int, value_bits: int) -> data.StructLayout:
    """A non-zero at an absolute position: ``value`` (a code) and its ``index``."""
    return data.StructLayout({"value": unsigned(value_bits), "index": unsigned(index_bits)})


def weighted_layout(index_bits: int, weight_bits: int) -> data.StructLayout:
    """A weight at an absolute position: signed fixed-point ``weight`` and ``index``."""
    return data.StructLayout({"weight": signed(weight_bits), "index": unsigned(index_bits)})


def lanes_layout(weight_shape, act_shape, lanes: int) -> data.StructLayout:
    """One step of ``lanes`` dot products: a weight ``w[k]`` and an activation
    ``a[k]`` per lane, and ``last`` on the final step of the dot products."""
    return data.StructLayout({
        "w": data.ArrayLayout(weight_shape, lanes),
        "a": data.ArrayLayout(act_shape, lanes),
        "last": unsigned(1),
    })


def segment_layout(off_bits: int, len_bits: int) -> data.StructLayout:
    """A non-zero activation as a stream PE takes it (``BroadcastQueue`` with a
    private part): the ``shared`` int8 ``value``, and the PE's own ``private``
    part, the bit ``off``-set and ``len``-gth of its segment of the column."""
    return data.StructLayout({
        "shared": data.StructLayout({"value": signed(8)}),
        "private": data.StructLayout({"off": unsigned(off_bits), "len": unsigned(len_bits)}),
    })


def table_entry_layout(code_bits: int) -> data.StructLayout:
    """A decoded symbol as a stream PE's symbol table holds it: its ``code``
    and its ``gap``, split once when the table is loaded."""
    return data.StructLayout({"code": unsigned(code_bits), "gap": unsigned(GAP_FIELD)})
