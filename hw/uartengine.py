"""The engine's host link over a UART: what a board top instantiates."""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .hostlink import HostLink
from .uart import UARTRx, UARTTx

__all__ = ["UartEngine"]


class UartEngine(wiring.Component):
    """``HostLink`` (and its engine) behind an 8N1 UART: request bytes arrive on
    ``rx``, responses leave on ``tx``, ``divisor`` clock cycles per bit. The
    protocol is ``docs/PROTOCOL.md``'s unchanged; the receiver's one-byte buffer
    is enough because the link takes a byte per cycle while a request arrives
    and the host waits for each response. ``line_error`` stays high after a
    framing error or an overrun until reset (an LED: the host sees a
    protocol error or a timeout). ``loaded``, ``busy`` and ``error`` are the
    link's.

    Parameters
    ----------
    divisor : int
        Clock cycles per UART bit (clock / baud).
    **engine :
        ``Engine`` parameters.
    """

    def __init__(self, *, divisor: int, **engine):
        self._rx, self._tx = UARTRx(divisor=divisor), UARTTx(divisor=divisor)
        self._link = HostLink(**engine)
        self.divisor = divisor
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1), "loaded": Out(1),
                          "busy": Out(1), "error": Out(1), "line_error": Out(1)})

    @property
    def link(self) -> HostLink:
        return self._link

    def elaborate(self, platform):
        m = Module()
        m.submodules.rx, m.submodules.tx = rx, tx = self._rx, self._tx
        m.submodules.link = link = self._link
        wiring.connect(m, rx.o, link.i)
        # A response byte waits in a register on its way to the transmitter, so the
        # link's response multiplexer ends there (a byte takes ``10 * divisor``
        # cycles on the line; the register costs none of them).
        held, byte = Signal(), Signal(8)
        m.d.comb += [link.o.ready.eq(~held), tx.i.valid.eq(held), tx.i.payload.eq(byte)]
        with m.If(link.o.valid & ~held):
            m.d.sync += [held.eq(1), byte.eq(link.o.payload)]
        with m.Elif(tx.i.ready):
            m.d.sync += held.eq(0)
        bad = Signal()
        with m.If(rx.framing_error | rx.overrun):
            m.d.sync += bad.eq(1)
        m.d.comb += [rx.rx.eq(self.rx), self.tx.eq(tx.tx), self.loaded.eq(link.loaded),
                     self.busy.eq(link.busy), self.error.eq(link.error),
                     self.line_error.eq(bad)]
        return m
