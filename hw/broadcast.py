"""A broadcast queue: one writer, one queue per reader, one shared storage."""

from amaranth.hdl import Module, Mux, Shape, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .params import reject

__all__ = ["BroadcastQueue", "private_layout"]


def private_layout(shared, private, readers: int) -> data.StructLayout:
    """A ``BroadcastQueue`` input with a private part per reader: the ``shared``
    part and ``private``, an array of ``readers`` parts."""
    return data.StructLayout({"shared": shared, "private": data.ArrayLayout(private, readers)})


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

    With ``private``, each reader also gets a part of the payload of its own:
    ``i.payload`` is ``private_layout(shape, private, readers)`` (the shared
    part and an array of one private part per reader) and ``o[k].payload``
    is ``{"shared", "private"}`` with reader ``k``'s part; the private parts
    are stored in one memory per reader, read only by it.

    Parameters
    ----------
    shape : shape-like
        Payload shape (the shared part with ``private``).
    readers : int
        Readers, 1..64.
    depth : int
        Capacity of each reader's queue, 1..64.
    private : shape-like or None
        Shape of each reader's own part of the payload.
    """

    def __init__(self, shape, *, readers: int, depth: int, private=None):
        for what, v in (("shape", shape), ("private", private)):
            try:
                if v is not None or what == "shape":
                    Shape.cast(v)
            except TypeError as e:
                reject(self, f"{what} must be shape-like, not {v!r} ({e})")
        if not isinstance(readers, int) or not 1 <= readers <= 64:
            reject(self, f"readers must be an integer in 1..64, not {readers!r}")
        if not isinstance(depth, int) or not 1 <= depth <= 64:
            reject(self, f"depth must be an integer in 1..64, not {depth!r}")
        self._shape, self._n, self._d, self._private = shape, readers, depth, private
        # Each queue's level and its registered "has room" (made here, not in
        # ``elaborate``, so a formal harness can assert that they agree).
        self.levels = [Signal(range(2 * depth), name=f"level{k}") for k in range(readers)]
        self.rooms = [Signal(init=1, name=f"room{k}") for k in range(readers)]
        self.holds = [Signal(name=f"holds{k}") for k in range(readers)]
        if private is None:
            i_shape = o_shape = shape
        else:
            i_shape = private_layout(shape, private, readers)
            o_shape = data.StructLayout({"shared": shape, "private": private})
        super().__init__({
            "i": In(stream.Signature(i_shape)),
            "o": Out(stream.Signature(o_shape)).array(readers),
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
        own = []                            # each reader's private memory's write port
        if self._private is not None:
            for k in range(self._n):
                mem = Memory(shape=self._private, depth=D, init=[])
                m.submodules[f"private{k}"] = mem
                own.append(mem)
        shared = self.i.payload if self._private is None else self.i.payload.shared

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
                     w.en.eq(push), w.addr.eq(addr(wp)), w.data.eq(shared)]
        for k, mem in enumerate(own):
            pw = mem.write_port()
            m.d.comb += [pw.en.eq(push), pw.addr.eq(addr(wp)),
                         pw.data.eq(self.i.payload.private[k])]
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
            m.d.comb += [held.eq(level(wp, rp)), r.addr.eq(addr(rp)), o.valid.eq(holds)]
            if own:
                pr = own[k].read_port(domain="comb")
                m.d.comb += [pr.addr.eq(addr(rp)), o.payload.shared.eq(r.data),
                             o.payload.private.eq(pr.data)]
            else:
                m.d.comb += o.payload.eq(r.data)
            with m.If(pop):
                m.d.sync += rp.eq(step(rp))
            with m.If(push & ~pop):
                m.d.sync += [has_room.eq(held < D - 1), holds.eq(1)]
            with m.Elif(pop & ~push):
                m.d.sync += [has_room.eq(1), holds.eq(held != 1)]
            room = room & has_room
        m.d.comb += self.i.ready.eq(room)
        return m
