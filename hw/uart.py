"""8N1 UART transmitter and receiver with ``lib.stream`` byte ports."""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from .params import reject

__all__ = ["UARTTx", "UARTRx"]


def _check_divisor(component, divisor):
    if not isinstance(divisor, int) or not 4 <= divisor <= 1 << 20:
        reject(component, f"divisor (clock cycles per bit) must be an integer in 4..{1 << 20}, "
                          f"not {divisor!r}")


class UARTTx(wiring.Component):
    """Sends each byte taken on ``i`` on ``tx`` as 8N1 (a start bit, 8 data bits
    LSB first, a stop bit), ``divisor`` clock cycles per bit; ``tx`` idles high.
    Takes the next byte in the cycle its stop bit ends: one byte per
    ``10 * divisor`` cycles.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit (clock / baud), 4..2**20.
    """

    def __init__(self, *, divisor: int):
        _check_divisor(self, divisor)
        self._div = divisor
        super().__init__({"i": In(stream.Signature(8)), "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        shift = Signal(10, init=0x3FF)     # bits left to send, LSB next; idle = all ones
        bits = Signal(range(11))           # bits left
        timer = Signal(range(self._div))
        m.d.comb += [self.tx.eq(shift[0]), self.i.ready.eq(bits == 0)]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [shift.eq(Cat(0, self.i.payload, 1)), bits.eq(10),
                         timer.eq(self._div - 1)]
        with m.Elif(bits != 0):
            with m.If(timer == 0):
                m.d.sync += [shift.eq(Cat(shift[1:], 1)), bits.eq(bits - 1),
                             timer.eq(self._div - 1)]
            with m.Else():
                m.d.sync += timer.eq(timer - 1)
        return m


class UARTRx(wiring.Component):
    """Receives 8N1 bytes on ``rx`` (``divisor`` clock cycles per bit) and offers
    each on ``o``. ``rx`` is synchronised (two flip-flops); a start bit is a low
    level still low half a bit after the falling edge; each bit is sampled
    in its middle. A byte whose stop bit is low is dropped and pulses
    ``framing_error``; a byte that arrives while the previous one still waits on
    ``o`` is dropped and pulses ``overrun``. The receiver never stalls the line.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit (clock / baud), 4..2**20.
    """

    def __init__(self, *, divisor: int):
        _check_divisor(self, divisor)
        self._div = divisor
        super().__init__({"rx": In(1, init=1), "o": Out(stream.Signature(8)),
                          "framing_error": Out(1), "overrun": Out(1)})

    def elaborate(self, platform):
        m = Module()
        rx = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, rx, init=1)
        timer = Signal(range(self._div))
        bits = Signal(range(10))
        shift = Signal(8)
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        m.d.comb += self.o.payload.eq(shift)
        data = Signal(8)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~rx):
                    m.d.sync += timer.eq(self._div // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Elif(rx):                  # a glitch, not a start bit
                    m.next = "IDLE"
                with m.Else():
                    m.d.sync += [timer.eq(self._div - 1), bits.eq(8)]
                    m.next = "DATA"
            with m.State("DATA"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Else():
                    m.d.sync += [data.eq(Cat(data[1:], rx)), timer.eq(self._div - 1),
                                 bits.eq(bits - 1)]
                    with m.If(bits == 1):
                        m.next = "STOP"
            with m.State("STOP"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Else():
                    with m.If(~rx):
                        m.d.comb += self.framing_error.eq(1)
                        m.next = "BREAK"
                    with m.Else():
                        with m.If(self.o.valid & ~self.o.ready):
                            m.d.comb += self.overrun.eq(1)
                        with m.Else():
                            m.d.sync += [shift.eq(data), self.o.valid.eq(1)]
                        m.next = "IDLE"
            with m.State("BREAK"):                # wait for the line to go high again
                with m.If(rx):
                    m.next = "IDLE"
        return m
