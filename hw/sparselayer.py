"""One sparse fully connected layer: the sparse phase, then the output stage."""

import inspect

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .layerout import LayerOutput
from .params import reject
from .pe import SparsePE
from .spmv import SparseMatVec

__all__ = ["SparseLayer"]


class SparseLayer(wiring.Component):
    """``SparseMatVec`` followed by ``LayerOutput``: ``start`` runs the product of
    the loaded layer with the loaded activations (``length`` of them, pointers
    from ``ptr_base``), then reads the ``rows`` accumulators out in row order,
    adds the biases and requantizes them (or, with ``raw``, sends the int32
    sums), one row per transfer on ``o``. ``busy`` is high from ``start`` until
    the last row has left; the accumulators are clear again afterwards.
    The result is ``golden.hwmodel.engine.layer_forward`` of a fully connected
    layer. Load ports are those of the two parts (``ld_*``, ``act_*``,
    ``bias_*``, ``rq_*``); see them for their formats.

    Parameters
    ----------
    n_pe, queue_depth, max_len, pe :
        As ``SparseMatVec``.
    max_rows : int
        Rows of the largest layer (bias and constant memory depth).
    digit_bits, bias_bits, row_consts :
        As ``LayerOutput``.
    """

    def __init__(self, *, n_pe: int = 4, queue_depth: int = 8, max_len: int = 1024,
                 pe: dict | None = None, max_rows: int = 512, digit_bits: int | None = 8,
                 bias_bits: int = 32, row_consts: bool = True):
        rows_per_pe = dict(pe or {}).get(
            "rows", inspect.signature(SparsePE).parameters["rows"].default)
        if (isinstance(n_pe, int) and isinstance(rows_per_pe, int)
                and not (isinstance(max_rows, int) and 1 <= max_rows <= n_pe * rows_per_pe)):
            reject(self, f"max_rows must be an integer in 1..{n_pe * rows_per_pe} "
                         f"(the PEs' accumulators), not {max_rows!r}")
        self._mv = SparseMatVec(n_pe=n_pe, queue_depth=queue_depth, max_len=max_len, pe=pe)
        self._out = LayerOutput(n_pe=n_pe, rows_per_pe=self._mv.rows_per_pe, max_rows=max_rows,
                                digit_bits=digit_bits, bias_bits=bias_bits,
                                row_consts=row_consts, acc_bits=self._mv.pe.acc_bits,
                                pipelined=self._mv.pe.pipelined)
        mv, out = self._mv.signature.members, self._out.signature.members
        super().__init__({
            **{k: mv[k] for k in ("act_we", "act_addr", "act_data", "ld_we", "ld_pe", "ld_mem",
                                  "ld_addr", "ld_data", "length", "ptr_base")},
            **{k: out[k] for k in ("bias_we", "bias_addr", "bias_data", "rq_we", "rq_addr",
                                   "rq_data", "rows", "row_base", "relu", "raw", "o")},
            "start": In(1), "busy": Out(1),
        })

    @property
    def spmv(self) -> SparseMatVec:
        return self._mv

    def elaborate(self, platform):
        m = Module()
        m.submodules.mv = mv = self._mv
        m.submodules.out = out = self._out
        for k in ("act_we", "act_addr", "act_data", "ld_we", "ld_pe", "ld_mem", "ld_addr",
                  "ld_data", "length", "ptr_base"):
            m.d.comb += getattr(mv, k).eq(getattr(self, k))
        for k in ("bias_we", "bias_addr", "bias_data", "rq_we", "rq_addr", "rq_data", "rows",
                  "row_base", "relu", "raw"):
            m.d.comb += getattr(out, k).eq(getattr(self, k))
        wiring.connect(m, out.o, wiring.flipped(self.o))
        m.d.comb += [mv.rd_pe.eq(out.rd_pe), mv.rd_addr.eq(out.rd_addr),
                     mv.clr_en.eq(out.clr_en), mv.clr_pe.eq(out.clr_pe),
                     mv.clr_addr.eq(out.clr_addr),
                     out.rd_data.eq(mv.rd_data)]

        running = Signal()             # the sparse phase runs (or is about to)
        m.d.comb += mv.start.eq(self.start & ~self.busy)
        with m.If(self.start & ~self.busy):
            m.d.sync += running.eq(1)
        with m.Elif(running & ~mv.busy):
            m.d.sync += running.eq(0)
        m.d.comb += [out.start.eq(running & ~mv.busy),
                     self.busy.eq(running | out.busy)]
        return m
