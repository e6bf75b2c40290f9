"""The host link: the engine's byte-stream command protocol (docs/PROTOCOL.md)."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from golden.hwmodel.protocol import (
    CMD,
    CODE,
    INFO_BYTES,
    PROTOCOL_VERSION,
    EngineInfo,
)

from .engine import Engine

__all__ = ["HostLink"]

RESP_BYTES = 1 + INFO_BYTES          # the longest fixed response: status + info


class HostLink(wiring.Component):
    """An ``Engine`` behind the byte protocol of ``golden.hwmodel.protocol``:
    requests arrive on ``i`` (bytes), responses leave on ``o``. The same
    stream pair is a UART on a board and a cocotb driver in simulation.

    One request at a time: the link takes a command byte and its arguments,
    does it and sends its response before it takes the next byte. Misuse
    never desynchronises the stream or hangs the engine: an ``input`` of the
    wrong length or before a model, and a ``load`` whose image is bad, still
    take every byte the request announced and then answer with the error;
    ``run`` without a model or an input, ``output`` before a run and an
    unknown command byte answer with their error at once. A run consumes its
    input (the layers write over it: ``run`` again needs a new ``input``),
    and an ``input`` drops the last run's output (its bytes write over it:
    read the output first). ``status`` returns
    the last error (and clears it) and the flags (model loaded, input
    written, output valid). ``loaded`` and ``error`` are for LEDs.

    Throughput: one request byte per two cycles (the engine's loader takes
    an image word per four), one response byte per two cycles (each is
    selected, then registered: a UART at 115200 baud takes a byte per 2,344
    cycles at 27 MHz). A request's length and a run's end each take a cycle
    more to be registered before they are acted on.

    Parameters
    ----------
    **engine :
        ``Engine`` parameters.
    """

    def __init__(self, **engine):
        self._engine = Engine(**engine)
        e = self._engine
        self.info = EngineInfo(PROTOCOL_VERSION, e.n_pe, e.queue_depth, e.code_bits,
                               e.max_layers, e.rows_per_pe, e.max_len, e.max_rows, e.max_out,
                               e.pointers, e.entries, e.xnor, e.sym_bits)
        super().__init__({
            "i": In(stream.Signature(8)), "o": Out(stream.Signature(8)),
            "loaded": Out(1), "error": Out(1), "busy": Out(1),
        })

    @property
    def engine(self) -> Engine:
        return self._engine

    def elaborate(self, platform):
        m = Module()
        m.submodules.engine = eng = self._engine

        # A request byte waits in ``b`` (``full``) until the state wants it; the
        # state acts on it the cycle after (``take``, registered), when ``b`` still
        # holds it (the next byte comes in at the end of that cycle at the
        # earliest, and the state has moved on by then). So neither the state's
        # decode nor the byte's is in front of ``i.ready``, the other side's
        # ``valid`` is not in front of the state, and what the state does with
        # a byte starts from flip-flops (a byte per two cycles).
        # ``op`` is the byte decoded as a command as it comes in (0: none).
        full, b = Signal(), Signal(8)
        ops = ("info", "load", "input", "run", "output", "counters", "status")
        op = Signal(range(len(ops) + 1))
        m.d.comb += self.i.ready.eq(~full)
        with m.If(self.i.valid & ~full):
            m.d.sync += [full.eq(1), b.eq(self.i.payload), op.eq(0)]
            for j, name in enumerate(ops):
                with m.If(self.i.payload == CMD[name]):
                    m.d.sync += op.eq(j + 1)
        want = Signal()                   # the state wants a byte now
        take = Signal()                   # the state takes ``b`` now
        m.d.sync += take.eq(full & want)
        with m.If(full & want):
            m.d.sync += full.eq(0)
        n = Signal(32)                    # argument, then bytes still to take
        more = Signal()                   # n != 0 (registered: n is wide)
        begin = Signal()                  # the loader's begin, a cycle after the length
        m.d.sync += begin.eq(0)
        m.d.comb += eng.img_begin.eq(begin)
        narg = Signal(3)                  # argument bytes still to take
        have_input, have_output = Signal(), Signal()
        last_err = Signal(8)

        # The response is not held in a shift register: ``kind`` says what it is,
        # ``idx`` which byte leaves now, and each byte is selected from its source
        # (the status byte ``st``, the build's constant info, the counters, the
        # ``status`` snapshot ``aux``, or an output byte off the engine's read
        # port: with the pipelined form (the ECP5 boards', whose block RAMs'
        # clock-to-out is 5.8 ns) registered first (``row_byte``), so that is not
        # in front of the multiplexer). The selected byte and whether it is the
        # last are registered (``byte``, ``last_byte``) and ``fresh`` says they
        # are ``idx``'s: a byte leaves every other cycle, and the multiplexer is
        # not in front of ``o`` or of the state. Every source is stable while
        # the response leaves: the engine is idle.
        held = eng.pipelined
        row_byte = Signal(8)
        if held:
            m.d.sync += row_byte.eq(eng.out_data)
        else:
            m.d.comb += row_byte.eq(eng.out_data)
        K_STATUS, K_INFO, K_STAT, K_COUNT, K_OUTHDR, K_ROW = range(6)
        resp_bytes = {K_STATUS: 1, K_INFO: 1 + INFO_BYTES, K_STAT: 3, K_COUNT: 13,
                      K_OUTHDR: 3, K_ROW: 1}
        kind = Signal(range(6))
        idx = Signal(range(RESP_BYTES))
        st, aux = Signal(8), Signal(16)
        rows_left = Signal(18)                # output bytes still to send
        info = Const(int.from_bytes(self.info.pack(), "little"), 8 * INFO_BYTES)
        sources = {K_STATUS: st, K_INFO: Cat(st, info), K_STAT: Cat(st, aux),
                   K_COUNT: Cat(st, eng.cycles, eng.mac_cycles, eng.macs),
                   K_OUTHDR: Cat(st, eng.classes), K_ROW: row_byte}
        byte, last_byte = Signal(8), Signal()
        fresh = Signal()                      # ``byte`` and ``last_byte`` are ``idx``'s
        m.d.sync += fresh.eq(1)               # (cleared where ``kind`` or ``idx`` moves)
        m.d.comb += self.o.payload.eq(byte)
        # Every (kind, idx) selects something (zero where nothing is), so the
        # registers take the multiplexer's output every cycle, with no enable.
        sel, sel_last = Signal(8), Signal()
        m.d.sync += [byte.eq(sel), last_byte.eq(sel_last)]
        with m.Switch(kind):
            for k, src in sources.items():
                with m.Case(k):
                    m.d.comb += sel_last.eq(idx == resp_bytes[k] - 1)
                    with m.Switch(idx):     # a mux (a variable shift would be a shifter)
                        for j in range(resp_bytes[k]):
                            with m.Case(j):
                                m.d.comb += sel.eq(src[8 * j:8 * j + 8])

        def respond(status, k=K_STATUS):
            """Start a response of kind ``k`` with status byte ``status``."""
            m.d.sync += [st.eq(status), kind.eq(k), idx.eq(0), fresh.eq(0)]
            with m.If(Value.cast(status) != 0):
                m.d.sync += last_err.eq(status)

        word_lo, word = Signal(8), Signal(16)
        word_half = Signal()
        word_valid = Signal()
        m.d.comb += [eng.img.valid.eq(word_valid), eng.img.payload.eq(word)]
        odd = Signal()
        n_in = Signal(16)                 # input bytes taken
        in_left = Signal(16)              # the model's input bytes still to come
        room, over = Signal(), Signal()
        is_load = Signal()                # the command is ``load``
        busy_q = Signal()                 # the engine's ``busy``, registered
        last_row = Signal()               # ``rows_left == 1``, registered
        m.d.sync += [busy_q.eq(eng.busy), last_row.eq(rows_left == 1)]

        m.d.comb += [self.loaded.eq(eng.loaded), self.busy.eq(eng.busy),
                     self.error.eq(last_err != 0)]

        with m.FSM() as fsm:
            with m.State("CMD"):
                with m.If(take):
                    m.d.sync += [n.eq(0), is_load.eq(op == 1 + ops.index("load"))]
                    with m.Switch(op):
                        with m.Case(1 + ops.index("info")):
                            respond(0, K_INFO)
                            m.next = "SEND"
                        with m.Case(1 + ops.index("load")):
                            m.d.sync += narg.eq(4)
                            m.next = "ARG"
                        with m.Case(1 + ops.index("input")):
                            m.d.sync += narg.eq(2)
                            m.next = "ARG"
                        with m.Case(1 + ops.index("run")):
                            with m.If(~eng.loaded):
                                respond(CODE["NO_MODEL"])
                                m.next = "SEND"
                            with m.Elif(~have_input):
                                respond(CODE["NO_INPUT"])
                                m.next = "SEND"
                            with m.Else():            # the layers overwrite the input
                                m.d.sync += have_input.eq(0)
                                m.next = "RUN_GO"
                        with m.Case(1 + ops.index("output")):
                            with m.If(~have_output):
                                respond(CODE["NO_OUTPUT"])
                                m.next = "SEND"
                            with m.Else():
                                respond(0, K_OUTHDR)
                                m.d.sync += [rows_left.eq(eng.classes << 2), n.eq(0)]
                                m.next = "SEND"
                        with m.Case(1 + ops.index("counters")):
                            respond(0, K_COUNT)
                            m.next = "SEND"
                        with m.Case(1 + ops.index("status")):
                            flags = Cat(eng.loaded, have_input, have_output)
                            respond(0, K_STAT)
                            m.d.sync += [aux.eq(Cat(last_err, flags)), last_err.eq(0)]
                            m.next = "SEND"
                        with m.Default():
                            respond(CODE["BAD_COMMAND"])
                            m.next = "SEND"

            with m.State("ARG"):              # little-endian length argument
                with m.If(take):
                    m.d.sync += [n.eq(Mux(is_load, Cat(n[8:32], b), Cat(n[8:16], b))),
                                 narg.eq(narg - 1)]
                    with m.If(narg == 1):
                        m.next = "ARG_END"
            with m.State("ARG_END"):          # the length is whole: its checks, registered
                m.d.sync += more.eq(n != 0)
                with m.If(is_load):
                    m.d.sync += begin.eq(1)
                    m.d.sync += [word_half.eq(0), word_valid.eq(0),
                                 have_input.eq(0), have_output.eq(0)]
                    m.next = "LOAD"
                with m.Else():                # input bytes overwrite the outputs
                    m.d.sync += [have_output.eq(0), room.eq(eng.in_len != 0), over.eq(0),
                                 in_left.eq(eng.in_len)]
                    m.next = "INPUT"

            with m.State("LOAD"):
                # Pair bytes into words for the loader; a word waits (and the byte
                # stream with it) while the loader stalls.
                with m.If(eng.img.ready):
                    m.d.sync += word_valid.eq(0)
                with m.If(take):
                    m.d.sync += [n.eq(n - 1), more.eq(n != 1), word_half.eq(~word_half)]
                    with m.If(word_half):
                        m.d.sync += [word_valid.eq(1), word.eq(Cat(word_lo, b))]
                    with m.Else():
                        m.d.sync += word_lo.eq(b)
                with m.If(~more & ~word_valid):
                    m.d.sync += odd.eq(word_half)
                    m.next = "LOAD_END"
            with m.State("LOAD_END"):
                m.d.comb += [eng.img_end.eq(~eng.img_finished), eng.img_odd.eq(odd)]
                with m.If(eng.img_finished):
                    respond(eng.img_status)
                    m.next = "SEND"

            with m.State("INPUT"):
                # ``in_left`` counts the model's input bytes down; ``room`` is
                # ``in_left != 0`` and ``over`` says a byte came after it reached 0,
                # both registered, so no compare of the lengths is in front of the
                # write or the verdict.
                with m.If(take):
                    m.d.sync += [n.eq(n - 1), more.eq(n != 1), n_in.eq(n_in + 1)]
                    m.d.comb += [eng.act_we.eq(eng.loaded & room),
                                 eng.act_addr.eq(n_in), eng.act_data.eq(b)]
                    with m.If(room):
                        m.d.sync += [in_left.eq(in_left - 1), room.eq(in_left != 1)]
                    with m.Else():
                        m.d.sync += over.eq(1)
                with m.If(~more):
                    ok = eng.loaded & ~room & ~over
                    m.d.sync += n_in.eq(0)
                    respond(Mux(~eng.loaded, CODE["NO_MODEL"],
                                Mux(ok, 0, CODE["BAD_LENGTH"])))
                    m.d.sync += have_input.eq(ok)
                    m.next = "SEND"

            with m.State("RUN_GO"):           # ``run``, a state's decode (below)
                m.next = "RUN_WAIT"
            with m.State("RUN_WAIT"):         # ``busy`` rises, and is registered
                m.next = "RUN"
            with m.State("RUN"):
                with m.If(~busy_q):
                    if eng.form == "stream":    # a corrupt stream: no output
                        bad = eng.error.as_value() != 0
                        m.d.sync += have_output.eq(~bad)
                        respond(Mux(bad, CODE["BAD_STREAM"], 0))
                    else:
                        m.d.sync += have_output.eq(1)
                        respond(0)
                    m.next = "SEND"

            with m.State("SEND"):
                with m.If(self.o.ready & fresh):
                    m.d.sync += [idx.eq(idx + 1), fresh.eq(0)]
                    with m.If(last_byte):
                        with m.If(kind == K_ROW):
                            m.d.sync += [n.eq(n + 1), rows_left.eq(rows_left - 1)]
                        with m.If((kind == K_OUTHDR) | ((kind == K_ROW) & ~last_row)):
                            m.next = "ROW"
                        with m.Else():
                            m.next = "CMD"
            with m.State("ROW"):                  # output byte ``n`` is read ...
                m.d.sync += [kind.eq(K_ROW), idx.eq(0), fresh.eq(0)]
                m.next = "ROW_HELD" if held else "SEND"
            if held:
                with m.State("ROW_HELD"):         # ... and registered (``row_byte``;
                    m.d.sync += fresh.eq(0)       # ``byte`` takes it next)
                    m.next = "SEND"
        # One-hot (Yosys recodes the state): a state's next value is an OR of the
        # transitions into it, not a decode of all of them. Yosys drops the
        # state's initial value: the design leaves reset in ``CMD`` (the board
        # tops hold ``sync`` in reset until their PLL locks).
        fsm.state.attrs["fsm_encoding"] = "one-hot"
        # Handshakes as expressions of the state, not defaults overridden in it:
        # Icarus never runs an ``always @*`` block whose inputs do not change, so
        # a default-and-override ``ready`` stayed X until the first byte. Neither
        # the state's ``want`` nor the engine's ``run`` is a function of
        # the other side's handshake: a word's low byte is always taken (it has
        # its own register), its high byte once the last word has gone to the
        # loader; ``run`` is a state of its own, so the byte decode that chose
        # it is not in front of the engine.
        m.d.comb += [
            eng.run.eq(fsm.ongoing("RUN_GO")),
            want.eq(fsm.ongoing("CMD") | fsm.ongoing("ARG")
                     | (fsm.ongoing("LOAD") & more & ~(word_valid & word_half))
                     | (fsm.ongoing("INPUT") & more)),
            self.o.valid.eq(fsm.ongoing("SEND") & fresh),
            eng.out_addr.eq(n),
        ]
        return m
