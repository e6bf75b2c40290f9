"""A broadcast queue: one writer, one queue per reader, one shared storage."""

from amaranth.hdl import Module, Mux, Shape, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .params import reject

__all__ = ["BroadcastQueue"]


class BroadcastQueue(wiring.Component):
    """``readers`` first-in first-out queues that are always written together:
    a payload taken on ``i`` enters every reader's queue, and reader ``k``
    takes them in order on ``o[k]`` at its own pace.

    It behaves as ``readers`` separate ``amaranth.lib.fifo.SyncFIFO`` of
    ``depth`` each whose write enables are tied together, cycle for cycle:
    ``i.ready`` is high while every queue has room (a read in the same cycle
    does not make room), ``o[k].valid`` while reader ``k``'s queue is not
    empty, a payload taken on ``i`` can be taken on ``o[k]`` in the next
    cycle, and one payload can enter and each reader take one every cycle.
    But the payloads are stored once, in a ``depth``-deep memory with one
    write port and one asynchronous read port per reader (flip-flops and
    read multiplexers on iCE40, LUT RAM on ECP5), so ``readers`` queues cost
    one queue's storage; each reader keeps only its read pointer.
    Order is kept; nothing is dropped or duplicated. ``i.ready`` is the AND
    of one flip-flop per queue (``rooms``, which always equals ``levels[k] <
    depth``), and ``o[k].valid`` is one (``holds[k]``, always ``levels[k] !=
    0``), so no pointer arithmetic sits in front of the storage's write
    enable or of a reader's take.

    Parameters
    ----------
    shape : shape-like
        Payload shape.
    readers : int
        Readers, 1..64.
    depth : int
        Capacity of each reader's queue, 1..64.
    """

    def __init__(self, shape, *, readers: int, depth: int):
        try:
            Shape.cast(shape)
        except TypeError as e:
            reject(self, f"shape must be shape-like, not {shape!r} ({e})")
        if not isinstance(readers, int) or not 1 <= readers <= 64:
            reject(self, f"readers must be an integer in 1..64, not {readers!r}")
        if not isinstance(depth, int) or not 1 <= depth <= 64:
            reject(self, f"depth must be an integer in 1..64, not {depth!r}")
        self._shape, self._n, self._d = shape, readers, depth
        # Each queue's level and its registered "has room" (made here, not in
        # ``elaborate``, so a formal harness can assert that they agree).
        self.levels = [Signal(range(2 * depth), name=f"level{k}") for k in range(readers)]
        self.rooms = [Signal(init=1, name=f"room{k}") for k in range(readers)]
        self.holds = [Signal(name=f"holds{k}") for k in range(readers)]
        super().__init__({
            "i": In(stream.Signature(shape)),
            "o": Out(stream.Signature(shape)).array(readers),
        })

    @property
    def readers(self) -> int:
        return self._n

    @property
    def depth(self) -> int:
        return self._d

    def elaborate(self, platform):
        m = Module()
        D = self._d
        width = Shape.cast(self._shape).width
        m.submodules.storage = storage = Memory(shape=width, depth=D, init=[])
        w = storage.write_port()

        # Pointers count modulo 2 * depth, so a reader's level is the pointers'
        # difference (no level counters that could disagree with them): equal
        # pointers are an empty queue, pointers ``depth`` apart a full one.
        pow2 = D & (D - 1) == 0

        def step(p):
            return p + 1 if pow2 else Mux(p == 2 * D - 1, 0, p + 1)

        def addr(p):
            return p[:(D - 1).bit_length()] if pow2 else Mux(p >= D, p - D, p)

        def level(wp, rp):
            return (wp - rp)[:len(wp)] if pow2 else Mux(wp >= rp, wp - rp, wp + 2 * D - rp)

        wp = Signal(range(2 * D))
        push = Signal()
        m.d.comb += [push.eq(self.i.valid & self.i.ready),
                     w.en.eq(push), w.addr.eq(addr(wp)), w.data.eq(self.i.payload)]
        with m.If(push):
            m.d.sync += wp.eq(step(wp))

        # Each queue's "has room" and "holds one" are flip-flops, their next
        # values found from this cycle's push and pop: ``i.ready`` is an AND of
        # flip-flops and ``valid`` a flip-flop, not functions of levels computed
        # from the pointers.
        room = 1
        for k in range(self._n):
            o = self.o[k]
            r = storage.read_port(domain="comb")
            rp = Signal(range(2 * D), name=f"rp{k}")
            held, has_room, holds = self.levels[k], self.rooms[k], self.holds[k]
            pop = o.valid & o.ready
            m.d.comb += [held.eq(level(wp, rp)), r.addr.eq(addr(rp)), o.payload.eq(r.data),
                         o.valid.eq(holds)]
            with m.If(pop):
                m.d.sync += rp.eq(step(rp))
            with m.If(push & ~pop):
                m.d.sync += [has_room.eq(held < D - 1), holds.eq(1)]
            with m.Elif(pop & ~push):
                m.d.sync += [has_room.eq(1), holds.eq(held != 1)]
            room = room & has_room
        m.d.comb += self.i.ready.eq(room)
        return m
