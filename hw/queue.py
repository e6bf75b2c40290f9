"""A stream FIFO."""

from amaranth.hdl import Module, Shape
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from .params import reject

__all__ = ["Queue"]


class Queue(wiring.Component):
    """A first-in first-out queue between two streams.

    Wraps ``amaranth.lib.fifo.SyncFIFOBuffered``: the output is registered, so
    a payload written into an empty queue appears on ``o`` two cycles later
    (latency 2); after that one payload can enter and one leave every cycle
    (throughput 1 per cycle). ``i.ready`` is low only while the queue holds
    ``depth`` payloads. Order is kept; nothing is dropped or duplicated.

    Parameters
    ----------
    shape : shape-like
        Payload shape (a width, ``signed(n)`` or a ``data`` layout).
    depth : int
        Capacity in payloads, at least 2.

    Members
    -------
    i : ``In(stream.Signature(shape))``
    o : ``Out(stream.Signature(shape))``
    level : ``Out(range(depth + 1))``
        Payloads held.
    """

    def __init__(self, shape, depth: int):
        try:
            Shape.cast(shape)
        except TypeError as e:
            reject(self, f"shape must be shape-like, not {shape!r} ({e})")
        if not isinstance(depth, int) or depth < 2:
            reject(self, f"depth must be an integer >= 2, not {depth!r}")
        self._shape = shape
        self._depth = depth
        super().__init__({
            "i": In(stream.Signature(shape)),
            "o": Out(stream.Signature(shape)),
            "level": Out(range(depth + 1)),
        })

    @property
    def shape(self):
        return self._shape

    @property
    def depth(self) -> int:
        return self._depth

    def elaborate(self, platform):
        m = Module()
        width = Shape.cast(self._shape).width
        m.submodules.fifo = f = fifo.SyncFIFOBuffered(width=width, depth=self._depth)
        m.d.comb += [
            f.w_data.eq(self.i.payload),
            f.w_en.eq(self.i.valid),
            self.i.ready.eq(f.w_rdy),
            self.o.payload.eq(f.r_data),
            self.o.valid.eq(f.r_rdy),
            f.r_en.eq(self.o.ready),
            self.level.eq(f.level),
        ]
        return m
