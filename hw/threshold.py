"""FINN-style threshold unit: batch norm + sign folded into one compare per lane."""

from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .params import reject

__all__ = ["Threshold"]


class Threshold(wiring.Component):
    """``o[k] = (acc[k] >= tau[k]) xor flip[k]`` for ``lanes`` lanes.

    ``tau`` and ``flip`` come from ``golden.hwmodel.compute.fold_bn_threshold``
    (batch norm then sign, folded: ``flip`` is set where the batch-norm scale
    is negative). ``tau`` is one bit wider than ``acc`` so every threshold
    that matters is representable: clamp the folded value into
    ``[-2**(acc_bits-1), 2**(acc_bits-1)]`` (``-2**(acc_bits-1)`` always
    passes, ``2**(acc_bits-1)`` never does). Latency 1 cycle, one transfer per
    cycle while ``o`` is ready or empty. Matches
    ``golden.hwmodel.compute.threshold``.
    """

    def __init__(self, *, lanes: int = 4, acc_bits: int = 16):
        if not isinstance(lanes, int) or not 1 <= lanes <= 256:
            reject(self, f"lanes must be an integer in 1..256, not {lanes!r}")
        if not isinstance(acc_bits, int) or not 2 <= acc_bits <= 48:
            reject(self, f"acc_bits must be an integer in 2..48, not {acc_bits!r}")
        self._lanes, self._acc = lanes, acc_bits
        layout = data.StructLayout({
            "acc": data.ArrayLayout(signed(acc_bits), lanes),
            "tau": data.ArrayLayout(signed(acc_bits + 1), lanes),
            "flip": unsigned(lanes),
        })
        super().__init__({
            "i": In(stream.Signature(layout)),
            "o": Out(stream.Signature(unsigned(lanes))),
        })

    def elaborate(self, platform):
        m = Module()
        en = Signal()
        m.d.comb += [en.eq(self.o.ready | ~self.o.valid), self.i.ready.eq(en)]
        p = self.i.payload
        with m.If(en):
            m.d.sync += self.o.valid.eq(self.i.valid)
            for k in range(self._lanes):
                m.d.sync += self.o.payload[k].eq((p.acc[k] >= p.tau[k]) ^ p.flip[k])
        return m
