"""The image loader: a memory image, word by word, into the engine's memories."""

from contextlib import contextmanager

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from golden.hwmodel.image import IMAGE_MAGIC, IMAGE_VERSION, STREAM_VERSION, XNOR_GROUP
from golden.hwmodel.protocol import CODE
from golden.hwmodel.stream import MAX_CODE_LEN, MAX_LEN_BITS

from .huffman import CanonicalTable
from .layerout import consts_words
from .layouts import table_entry_layout
from .params import reject, require_int
from .patches import MAX_KERNEL
from .pe import NEXT_LAST, entry_address_bits, pointer_word
from .spmv import MEM_BASE, MEM_CB, MEM_ENT, MEM_PTR

__all__ = ["ImageLoader", "layer_entry_layout", "read_words"]


class _Namespace(dict):
    """The loader's shared signals, by attribute, for the helpers of ``elaborate``."""

    __getattr__ = dict.__getitem__


def layer_entry_layout(len_bits: int, ptr_bits: int, row_bits: int, bank_bits: int,
                       conv: bool = False, xnor: bool = False,
                       stream: bool = False) -> data.StructLayout:
    """One layer of the engine's layer table: lengths, where its column
    pointers and rows start, its codebook bank, ReLU and last-layer flags;
    with ``conv``, also its kind (``conv``, ``pool``, or neither: fully
    connected) and shape: the input's ``h``, ``w`` and ``hw`` (``h * w``),
    the kernel's ``kh``, ``kw`` and ``pad``, the output's ``oh``, ``ow`` and
    ``pos`` (``oh * ow``; a pool's is its output length), and ``org``, the
    address of the first patch's corner (``-(pad * w + pad)``, modulo
    ``2**len_bits``); with ``xnor``, ``binary`` (a binary layer on the XNOR
    path) and its ``groups`` of ``XNOR_GROUP`` inputs, its pointers; with
    ``stream``, the stream form's ``gap`` and ``lenb`` (descriptor words 26
    and 27) and its flags ``bias16`` and ``rq1`` (one requantization record
    for the layer)."""
    fields = {
        "inp": unsigned(len_bits), "out": unsigned(len_bits), "ptr_base": unsigned(ptr_bits),
        "row_base": unsigned(row_bits), "bank": unsigned(max(1, bank_bits)),
        "cb_bits": unsigned(4), "relu": 1, "last": 1,
    }
    if conv:
        k = MAX_KERNEL.bit_length()
        fields.update({"conv": 1, "pool": 1, "kh": k, "kw": k, "pad": k,
                       **{f: unsigned(len_bits) for f in ("h", "w", "hw", "oh", "ow", "pos",
                                                          "org")}})
    if xnor:
        fields.update({"binary": 1, "groups": unsigned(len_bits)})
    if stream:
        fields.update({"gap": unsigned(4), "lenb": unsigned(5), "bias16": 1, "rq1": 1})
    return data.StructLayout(fields)


def read_words(m, *, count, base, port_addr, port_data, target):
    """In the calling FSM state: read ``target`` (a ``data`` view or signal) from
    consecutive words at ``base`` of a memory with a synchronous read port
    (``port_addr``, ``port_data``), a word per cycle, low word first, counting in
    ``count`` (zero on entry; the caller zeroes it again). Returns the condition of
    the cycle the last word is latched."""
    width = len(port_data)
    bits = Value.cast(target)
    words = -(-len(bits) // width)
    m.d.comb += port_addr.eq(base + count)
    m.d.sync += count.eq(count + 1)
    for k in range(words):
        with m.If(count == k + 1):
            hi = min(len(bits), width * (k + 1))
            m.d.sync += bits[width * k:hi].eq(port_data[:hi - width * k])
    return count == words


class ImageLoader(wiring.Component):
    """Reads a memory image (``golden.hwmodel.image``, ``docs/FORMAT.md``) from
    the word stream ``i`` and writes it where the engine runs it from: each PE's
    column pointer words (built here from the image's per-column counts:
    ``hw.pe.pointer_word``), entries (with the ``hw.pe.NEXT_LAST`` flag set
    here) and codebook bank (``ld_*``, the load port of ``SparseMatVec``),
    the biases and requantization constants (``bias_*``,
    ``rq_*``, at each layer's row base), and one layer-table entry per layer
    (``layer_entry_layout``, ``table_words`` words of the parameter memory
    from ``max_rows``, through ``bias_*``; the loader reads each back through
    ``tbl_*``). Everything resident at once: layer
    ``l`` has codebook bank ``l``, its pointers follow layer ``l - 1``'s in the
    pointer memories, its entries follow in each PE's entry memory.

    ``begin`` starts a load (and forgets the model loaded before); the words
    follow on ``i`` (one per four cycles from the header's end: the CRC
    runs a nibble per cycle; and three more cycles per layer: two before its
    codebook, one after its biases); ``end`` says the
    host sent its last word (``odd`` with it: and half a word more, which makes
    the image's length wrong); it holds ``end`` until ``finished``, which rises
    within a few cycles (the loader may still be between sections; in the
    stream form, once the last layer's code tables are built) with
    ``status``: ``OK`` and ``loaded`` high, or the first error that explains
    the image (``golden.hwmodel.protocol.STATUS``): a header that is not an
    image or is for another build (``IMG_MAGIC``, ``IMG_VERSION``,
    ``IMG_CONFIG``), then a word count that is not the header's
    (``IMG_LENGTH``), then a CRC mismatch (``IMG_CRC``), then the first bad
    field found on the way (``IMG_CAPACITY``, ``IMG_UNSUPPORTED``,
    ``IMG_FIELD``). The loader reads the sections in the order the format
    fixes and checks every field it uses: lengths that chain from layer to
    layer and fit the memories, entries that fit their PE's entry memory,
    entry rows inside the layer and codes inside its codebook, int8 codebook
    values, ``M0 < 2**31`` and shifts <= 31. (That a column's rows come in
    order, once each, is ``read_image``'s check, not the loader's: the
    engine adds a repeated row twice, and never hangs on it.)
    After an error it keeps taking words (and counting them into the CRC), so
    it never stalls the host; it never hangs.

    Parameters
    ----------
    n_pe, code_bits, rows_per_pe, pointers, entries :
        The engine's PEs and their memories (``SparsePE``).
    max_layers : int
        Layer table depth (and codebook banks), 1..64.
    max_len : int
        Longest activation vector.
    max_rows : int
        Bias and constant memory depth (rows of all layers together).
    max_out : int
        Outputs of the last layer, at most.
    bias_bits, row_consts :
        The parameter memory's layout (``LayerOutput``): biases of 16 or 32
        bits (a bias that does not fit is ``IMG_CAPACITY``); requantization
        constants per row (``rq_*``) or per layer, written after the layer's
        biases (then a layer whose rows' constants differ is
        ``IMG_UNSUPPORTED``). ``max_rows`` counts the parameter words.
    conv : bool
        Also load convolutions (``conv``, shared) and max-pools (``maxpool``)
        into the layer table with their shapes (``layer_entry_layout``); a
        build without takes fully connected layers only (``IMG_UNSUPPORTED``).
        The engine runs stride-1 convolutions with kernels and padding up to
        15 and 2x2 pools (other strides, sizes and pools are
        ``IMG_UNSUPPORTED``), and a last layer that is fully connected. The
        shape must chain: ``c * h * w`` is the previous layer's output
        length, a convolution's input length is ``c * kh * kw``, its output
        (``out * oh * ow``, a pool's ``c * (h // 2) * (w // 2)``) fits
        ``max_len`` (else ``IMG_CAPACITY``); the other shape errors are
        ``IMG_FIELD``. A pool takes no words beyond its descriptor.
    xnor : bool
        Also load binary fully connected layers (storage 2) for the XNOR path
        (``SparsePE``): code_bits 0, descriptor word 18 ``ceil(inp / 15)``
        groups, which take the layer's pointers, and per PE and group the
        count of the PE's rows, then as many sign words, stored as a shared
        layer's entries are (a wrong count or group number, or a sign word
        with bit 15 set, is ``IMG_FIELD``). A build without refuses them
        (``IMG_UNSUPPORTED``).
    form : str
        ``"expanded"`` (image mode 0, version 4) or ``"stream"`` (mode 1,
        version 5: ``docs/FORMAT.md``, "The stream form"), for the engine's
        ``SparseMatVec`` of that form; each refuses the other's images
        (``IMG_VERSION``). A stream build loads fully connected shared layers
        (no convolutions, no XNOR path). Per shared layer it turns the
        code-length tokens into the layer's code with ``CanonicalTable``
        (``2 * 2**(gap_bits + code_bits) + 23`` cycles after the tokens' last
        word, while the layer's next sections arrive; the next layer's tokens
        wait for it): the symbol table of bank ``l`` in every PE (``sym_*``,
        ``SparseMatVec``'s symbol-table port, beside the load port) and the
        limits and offsets (``dec_*``: entry ``l`` of the engine's decoder
        memory, a length at a time, ``dec_we`` one-hot on the length). It writes the length table into each PE's
        lengths (``MEM_PTR``, a row per column from the layer's pointer
        base), and each PE's stream into its stream memory after the
        previous layer's, with its first word in ``MEM_BASE`` (bank ``l``).
        It checks the header's symbol field (``IMG_CONFIG`` unless
        ``sym_bits``), ``gap_bits`` and ``len_bits`` (``IMG_FIELD``; lengths
        wider than ``len_bits`` are ``IMG_CAPACITY``), the tokens (exactly
        the alphabet, a Kraft sum at most 1, zero bits after the last), each
        stream's word count against its lengths' sum and its padding bits
        (``IMG_FIELD``), and streams that fit (``IMG_CAPACITY``). It does not
        decode the streams: a bad code is the PE's error at run time.
    sym_bits, len_bits : int
        The stream form's symbol and segment-length widths (``StreamPE``);
        ``entries`` is then a PE's stream memory in words.
    """

    def __init__(self, *, n_pe: int = 4, code_bits: int = 4, rows_per_pe: int = 128,
                 pointers: int = 1024, entries: int = 4096, max_layers: int = 8,
                 max_len: int = 1024, max_rows: int = 1024, max_out: int = 256,
                 bias_bits: int = 32, row_consts: bool = True, conv: bool = False,
                 xnor: bool = False, form: str = "expanded", sym_bits: int = 9,
                 len_bits: int = 16):
        for name, v, lo, hi in (("n_pe", n_pe, 1, 64), ("code_bits", code_bits, 1, 7),
                                ("rows_per_pe", rows_per_pe, 2, 1 << 15),
                                ("pointers", pointers, 2, 1 << 16),
                                ("entries", entries, 2, 1 << 14),
                                ("max_layers", max_layers, 1, 64),
                                ("max_len", max_len, 2, 1 << 16),
                                ("max_rows", max_rows, 1, 1 << 16),
                                ("max_out", max_out, 1, 1 << 16)):
            require_int(self, name, v, lo, hi)
        if bias_bits not in (16, 32):
            reject(self, f"bias_bits must be 16 or 32, not {bias_bits!r}")
        if not isinstance(row_consts, bool):
            reject(self, f"row_consts must be a bool, not {row_consts!r}")
        if not isinstance(conv, bool):
            reject(self, f"conv must be a bool, not {conv!r}")
        if not isinstance(xnor, bool):
            reject(self, f"xnor must be a bool, not {xnor!r}")
        if form not in ("expanded", "stream"):
            reject(self, f"form must be 'expanded' or 'stream', not {form!r}")
        stream_form = form == "stream"
        if stream_form:
            require_int(self, "sym_bits", sym_bits, 2, 12)
            require_int(self, "len_bits", len_bits, 1, MAX_LEN_BITS)
            if conv or xnor:
                reject(self, "the stream form loads fully connected shared layers: no conv "
                             "or xnor", ValueError)
            if (max_layers - 1).bit_length() + sym_bits > 16:
                reject(self, f"{max_layers} symbol tables of {sym_bits}-bit symbols need more "
                             f"than a 16-bit load address", ValueError)
        self.form, self.sym_bits, self.len_bits = form, sym_bits, len_bits
        self.bias_bits, self.row_consts, self.conv, self.xnor = bias_bits, row_consts, conv, xnor
        self.n_pe, self.code_bits, self.rows_per_pe = n_pe, code_bits, rows_per_pe
        self.pointers, self.entries, self.max_layers = pointers, entries, max_layers
        self.max_len, self.max_rows, self.max_out = max_len, max_rows, max_out
        self.abits = entry_address_bits(entries)
        bank_bits = (max_layers - 1).bit_length()
        self.entry_layout = layer_entry_layout(
            (max(max_len, max_out)).bit_length(), (pointers - 1).bit_length() or 1,
            (max_rows - 1).bit_length() or 1, bank_bits, conv, xnor, stream_form)
        # The layer table follows the parameters in the parameter memory: entry
        # ``l`` is ``table_words`` words from ``max_rows + table_words * l``.
        self.table_words = -(-self.entry_layout.size // bias_bits)
        if conv and self.table_words > 10:
            # The table entry is written from descriptor word 32 - table_words on, after
            # the shape's products (words 14..21).
            reject(self, f"a layer table entry of {self.table_words} words is too long for "
                         f"convolutions (at most 10): use 32-bit biases or a shorter max_len",
                   ValueError)
        if stream_form and self.table_words > 4:
            # Written from descriptor word 28, after the stream words 26 and 27.
            reject(self, f"a layer table entry of {self.table_words} words is too long for "
                         f"the stream form (at most 4): use 32-bit biases or a shorter "
                         f"max_len", ValueError)
        self.param_depth = max_rows + self.table_words * max_layers
        pbits = (self.param_depth - 1).bit_length()
        super().__init__({
            "i": In(stream.Signature(16)),
            "begin": In(1), "end": In(1), "odd": In(1),
            "finished": Out(1), "status": Out(8), "loaded": Out(1),
            "n_layers": Out(range(max_layers + 1)), "in_len": Out(16), "classes": Out(16),
            "ld_we": Out(1), "ld_all": Out(1), "ld_pe": Out(range(n_pe)),
            "ld_mem": Out(3 if stream_form else 2),
            "ld_addr": Out(16), "ld_data": Out(16),
            "bias_we": Out(1), "bias_addr": Out(pbits), "bias_data": Out(signed(bias_bits)),
            "rq_we": Out(1), "rq_addr": Out(pbits), "rq_data": Out(unsigned(36)),
            "tbl_addr": Out(pbits), "tbl_data": In(bias_bits),
            **({"dec_we": Out(MAX_CODE_LEN + 1), "dec_addr": Out(max(1, bank_bits)),
                "dec_limit": Out(MAX_CODE_LEN + 1), "dec_offset": Out(sym_bits),
                "sym_we": Out(1), "sym_addr": Out(sym_bits + max(1, bank_bits)),
                "sym_data": Out(table_entry_layout(code_bits))}
               if stream_form else {}),
        })

    def _full(self, a):
        """``a >= entries``: the entry memory holds no more (a bit test when
        ``entries`` is a power of two, as ``engine_params`` makes it)."""
        e = self.entries
        return a[self.abits] if e == 1 << self.abits else a >= e

    def _stream_table(self, m, v):
        """The stream form's code tables, built in the background
        (``CanonicalTable``, ``2 * nsym + 23`` cycles) while the layer's length
        table and streams arrive: the layer's bank and code width are kept for
        it (``b_*``). The next layer's tokens wait for it, and so does the
        verdict (``build_busy``)."""
        m.submodules.table = tb = CanonicalTable(max_len=MAX_CODE_LEN,
                                                 symbol_bits=self.sym_bits)
        b_bank, b_cb, b_mask = Signal(len(self.dec_addr)), Signal(4), Signal(8)
        te = Signal(table_entry_layout(self.code_bits))
        m.d.comb += [tb.count.eq(v.nsym), self.dec_we.eq(tb.lim_we), self.dec_addr.eq(b_bank),
                     self.dec_limit.eq(tb.lim_data), self.dec_offset.eq(tb.off_data),
                     te.code.eq(tb.sym_data & b_mask), te.gap.eq(tb.sym_data >> b_cb),
                     self.sym_we.eq(tb.sym_we), self.sym_addr.eq(Cat(tb.sym_addr, b_bank)),
                     self.sym_data.eq(te), v.build_busy.eq(tb.busy)]
        # Registered for the next layer's tokens (they come long after the build
        # starts, so the cycle it lags by is one more cycle of waiting).
        m.d.sync += v.build_busy_q.eq(tb.busy)
        with m.If(tb.done & tb.error):      # over-subscribed lengths
            v.fail("IMG_FIELD")
        v.update(tb=tb, b_bank=b_bank, b_cb=b_cb, b_mask=b_mask)

    def _stream_states(self, m, state, v):
        """The stream form's sections of a shared layer, after its codebook and
        before its biases (``docs/FORMAT.md``): the code-length tokens
        (``TOKENS``, which start the layer's ``_stream_table``), the length
        table (``LENS``), then per PE its stream's base (``SBASE``) and words
        (``SWORD``). ``v``: the loader's shared signals."""
        N, S, P = self.n_pe, self.sym_bits, MAX_CODE_LEN
        L, w, take, fail, lay, fill = v.L, v.w, v.take, v.fail, v.lay, v.fill
        bank = lay[:len(self.dec_addr)]
        tb, b_bank, b_cb, b_mask = v.tb, v.b_bank, v.b_cb, v.b_mask

        # ---- tokens, 5 bits MSB first, left-aligned in ``tok`` (``tn`` valid);
        # ``sidx`` symbols described so far and ``sleft`` still to describe
        # (``described``: none, kept beside it so no compare of the count is in
        # front of the state), ``zrun`` zero lengths of a run still to write
        # (set from the codebook's end)
        tok, tn, sidx, zrun = v.tok, v.tn, v.sidx, v.zrun
        sleft, described = v.sleft, v.described

        def described_one():
            m.d.sync += [sidx.eq(sidx + 1), sleft.eq(sleft - 1), described.eq(sleft == 1)]

        t = tok[16:]
        fb, fn = Signal(31), Signal(5)     # length-table bits, left-aligned (``fn`` valid)
        ring = [Signal(self.abits + 6, name=f"bits{i}") for i in range(N)]  # per PE, its sum
        kk = Signal(range(N))              # the PE of the field (and of the stream)
        fields_done = Signal()
        m.d.comb += tb.len_addr.eq(sidx[:S])
        with state("TOKENS"):
            with m.If(v.build_busy_q):         # the last layer's build
                pass
            with m.Elif(zrun != 0):
                m.d.comb += [tb.len_we.eq(1), tb.len_data.eq(0)]
                m.d.sync += zrun.eq(zrun - 1)
                described_one()
            with m.Elif(described):        # the rest of the word is zero
                with m.If(tok != 0):
                    fail("IMG_FIELD")
                m.d.comb += tb.build.eq(1)
                m.d.sync += [b_bank.eq(bank), b_cb.eq(L.cb_bits), b_mask.eq(v.cb_mask),
                             fb.eq(0), fn.eq(0), kk.eq(0), fields_done.eq(0),
                             v.pa.eq(L.ptr_base), v.cols_left.eq(v.inp_m1),
                             *(r.eq(0) for r in ring)]
                m.next = "LENS"
            with m.Elif(tn >= 5):
                m.d.sync += [tok.eq(tok << 5), tn.eq(tn - 5)]
                with m.If(t <= P):
                    m.d.comb += [tb.len_we.eq(1), tb.len_data.eq(t)]
                    described_one()
                with m.Else():
                    m.d.sync += zrun.eq(t - 15)
                    with m.If(t - 15 > sleft):
                        fail("IMG_FIELD")
            with m.Else():
                m.d.comb += v.want.eq(1)
                with m.If(take):
                    m.d.sync += [tok.eq(tok | (w << (5 - tn[:3])[:3])), tn.eq(tn + 16)]

        # ---- the length table: field ``j * N + k`` is PE ``k``'s segment of column ``j``
        lb = L.lenb
        field = Signal(16)
        m.d.comb += field.eq(fb >> (31 - lb)[:5])
        with state("LENS"):
            with m.If(fields_done):            # the bits after the last field are zero
                with m.If(fb != 0):
                    fail("IMG_FIELD")
                m.next = "SBASE"
            with m.Elif(fn >= lb):
                m.d.comb += [self.ld_we.eq(1), self.ld_pe.eq(kk), self.ld_mem.eq(MEM_PTR),
                             self.ld_addr.eq(v.pa), self.ld_data.eq(field)]
                total = ring[0] + field
                # Twice the stream memory's bits, well before ``ring`` would wrap.
                with m.If(total[self.abits + 5:] != 0):
                    fail("IMG_CAPACITY")
                m.d.sync += [fb.eq(fb << lb), fn.eq(fn - lb), kk.eq(kk + 1),
                             *(ring[i].eq(ring[i + 1]) for i in range(N - 1)),
                             ring[N - 1].eq(total)]
                with m.If(kk == N - 1):
                    m.d.sync += [kk.eq(0), v.pa.eq(v.pa + 1), v.cols_left.eq(v.cols_left - 1)]
                    with m.If(v.cols_left == 0):
                        m.d.sync += fields_done.eq(1)
            with m.Else():
                m.d.comb += v.want.eq(1)
                with m.If(take):
                    m.d.sync += [fb.eq(fb | (w << (15 - fn[:4])[:4])), fn.eq(fn + 16)]

        # ---- per PE: its first word (``MEM_BASE``), then its stream's words
        left = Signal(self.abits + 3)      # words of the PE's stream still to come
        pad = Signal(16)                   # the last word's padding bits (a mask)
        a = fill[0]

        def next_pe(a_next):
            # The fill ring turns (PE ``kk``'s level, ``a_next``, to the back).
            m.d.sync += [kk.eq(kk + 1),
                         *(fill[i].eq(fill[i + 1]) for i in range(N - 1)), fill[N - 1].eq(a_next),
                         *(ring[i].eq(ring[(i + 1) % N]) for i in range(N))]
            with m.If(kk == N - 1):
                m.d.sync += [v.count.eq(0), v.half.eq(0)]
                m.next = "BIAS"
            with m.Else():
                m.next = "SBASE"

        with state("SBASE"):
            words = (ring[0] + 15) >> 4
            m.d.comb += [self.ld_we.eq(1), self.ld_pe.eq(kk), self.ld_mem.eq(MEM_BASE),
                         self.ld_addr.eq(bank), self.ld_data.eq(a)]
            m.d.sync += [left.eq(words), pad.eq((Const(1, 17) << (-ring[0])[:4]) - 1)]
            with m.If(words == 0):
                next_pe(a)
            with m.Else():
                m.next = "SWORD"
        with state("SWORD"):
            m.d.comb += [v.want.eq(1), self.ld_pe.eq(kk), self.ld_mem.eq(MEM_ENT),
                         self.ld_addr.eq(a[:self.abits]), self.ld_data.eq(w)]
            with m.If(take):
                m.d.comb += self.ld_we.eq(~self._full(a))
                m.d.sync += [a.eq(a + 1), left.eq(left - 1)]
                with m.If(self._full(a)):
                    fail("IMG_CAPACITY")
                with m.If(left == 1):
                    with m.If((w & pad) != 0):
                        fail("IMG_FIELD")
                    next_pe(a + 1)

    def _shape_words(self, m, w, ent, fail, creg, prod, mul_in, ohr, owr, small, olen,
                     prev_out):
        """The shape words of a convolution's or pool's descriptor (``Case``s of
        the descriptor's word switch, in the ``take`` of word ``d``): its
        fields from word 5, then, a product per word from word 14 on one
        multiplier, the checks that its input is the previous layer's output
        (``c * h * w``), that a convolution's input length is its patch
        (``c * kh * kw``) and that its output fits, and the table's derived
        fields (``hw``, ``oh``, ``ow``, ``pos``, ``org``)."""
        conv, pool = ent.conv, ent.pool
        shaped = conv | pool
        ma, mb = mul_in
        with m.Case(5):
            m.d.sync += creg.eq(w)
            with m.If(shaped & (w == 0)):
                fail("IMG_FIELD")
        for at, f in ((6, ent.h), (7, ent.w)):
            with m.Case(at):
                m.d.sync += f.eq(w)
                with m.If(shaped & ((w == 0) | (w > self.max_len))):
                    fail("IMG_FIELD")
        for at, f in ((8, ent.kh), (9, ent.kw)):
            with m.Case(at):
                m.d.sync += f.eq(w)
                with m.If(conv & ((w == 0) | (w > MAX_KERNEL))):
                    fail("IMG_UNSUPPORTED")
        with m.Case(10):                                # stride
            with m.If(conv & (w != 1)):
                fail("IMG_UNSUPPORTED")
        with m.Case(11):
            m.d.sync += ent.pad.eq(w)
            with m.If(conv & (w > MAX_KERNEL)):
                fail("IMG_UNSUPPORTED")
        with m.Case(12):                                # pool size
            with m.If(conv & (w != 0)):
                fail("IMG_FIELD")
            with m.Elif(pool & (w != 2)):
                fail("IMG_UNSUPPORTED")
        # A product per word, on one multiplier with registered operands and
        # product: ``prod`` is ``a * b`` of the word before (two cycles after its
        # take; a body word is taken at most every fourth cycle, the CRC's pace,
        # and past the CRC's span the image's length is wrong, which wins).
        def mul(a, b):
            m.d.sync += [ma.eq(a), mb.eq(b)]

        with m.Case(14):
            mul(ent.h, ent.w)
            hp, wp = ent.h + (ent.pad << 1), ent.w + (ent.pad << 1)
            m.d.sync += [ohr.eq(Mux(pool, ent.h >> 1, hp + 1 - ent.kh)),
                         owr.eq(Mux(pool, ent.w >> 1, wp + 1 - ent.kw)),
                         small.eq(Mux(pool, (ent.h < 2) | (ent.w < 2),
                                      (hp < ent.kh) | (wp < ent.kw)))]
        with m.Case(15):
            mul(creg, prod)
            m.d.sync += ent.hw.eq(prod)
            with m.If(shaped & (prod[16:] != 0)):
                fail("IMG_FIELD")
        with m.Case(16):
            mul(ent.kh, ent.kw)
            m.d.sync += [ent.oh.eq(ohr), ent.ow.eq(owr)]
            with m.If(shaped & ((prod != prev_out) | small)):
                fail("IMG_FIELD")
        with m.Case(17):
            mul(creg, prod)
        with m.Case(18):
            mul(ent.oh, ent.ow)
            with m.If(conv & (prod != ent.inp)):
                fail("IMG_FIELD")
        with m.Case(19):
            mul(Mux(pool, creg, ent.out), prod)
            m.d.sync += ent.pos.eq(prod)
            with m.If(shaped & (prod[16:] != 0)):       # oh * ow: padding can pass 16 bits
                fail("IMG_CAPACITY")
        with m.Case(20):
            mul(ent.pad, ent.w)
            m.d.sync += olen.eq(prod)
            with m.If(pool):
                m.d.sync += ent.pos.eq(prod)
            with m.If(shaped & (prod > self.max_len)):
                fail("IMG_CAPACITY")
        with m.Case(21):
            m.d.sync += ent.org.eq(-(prod + ent.pad))

    def elaborate(self, platform):
        m = Module()
        N, CB = self.n_pe, self.code_bits
        # The stream form's signals that states outside ``_stream_states`` use.
        sv = _Namespace(nsym=Signal(self.sym_bits + 1, name="nsym"), cb_mask=Signal(8),
                        build_busy=Signal(), build_busy_q=Signal(),
                        tok=Signal(21), tn=Signal(5), sidx=Signal(self.sym_bits + 1),
                        sleft=Signal(self.sym_bits + 1), described=Signal(),
                        zrun=Signal(5))
        want = Signal()                     # the state wants a word now
        # A word taken on ``i`` (``arrive``) is registered (``w``) and acted on the
        # cycle after (``take``), in the same state: what the states do with a
        # word starts from flip-flops, not from the handshake. No word is taken
        # in that cycle (``i.ready`` is low), so the state has moved on first.
        arrive, take, w = Signal(), Signal(), Signal(16)
        # The CRC (CRC-32/ISO-HDLC, the image's) runs a nibble per cycle over a copy
        # of each word from word 16 to the header's total: 4 cycles a word, so a
        # word is taken at most every fourth cycle (the host link brings one every
        # other cycle at best). A wider CRC step costs ~200 LCs more on iCE40.
        crc, crc_sh = Signal(32, init=0xFFFFFFFF), Signal(16)
        crc_n = Signal(range(5))            # nibbles of ``crc_sh`` still to go
        m.d.comb += [self.i.ready.eq(want & (crc_n <= 1) & ~take),
                     arrive.eq(self.i.valid & self.i.ready)]
        m.d.sync += take.eq(arrive)
        with m.If(arrive):
            m.d.sync += w.eq(self.i.payload)
        nxt = crc ^ crc_sh[:4]
        for _ in range(4):
            nxt = Mux(nxt[0], (nxt >> 1) ^ 0xEDB88320, nxt >> 1)
        with m.If(crc_n != 0):
            m.d.sync += [crc.eq(nxt), crc_sh.eq(crc_sh >> 4), crc_n.eq(crc_n - 1)]
        widx = Signal(25)                   # words taken so far
        total, crc_exp = Signal(32), Signal(32)
        herr, err = Signal(8), Signal(8)    # header identity error, first other error
        n_layers, in_len, classes = self.n_layers, self.in_len, self.classes
        # ``hdr``: the header (words 0..15) is arriving, ``widx[:4]`` its word;
        # ``remain``: words of the body the CRC still covers (from the header's total).
        # Both registers, so no wide compare of ``widx`` decides on a word.
        hdr = Signal(init=1)
        # ``covered`` is ``remain != 0``, registered beside it.
        remain, covered = Signal(32), Signal()
        # The CRC starts on a word as it arrives (``hdr`` has fallen by then: a
        # word is acted on before the next arrives).
        with m.If(arrive & ~hdr & covered):
            m.d.sync += [crc_sh.eq(self.i.payload), crc_n.eq(4), remain.eq(remain - 1),
                         covered.eq(remain != 1)]
        with m.If(take):
            m.d.sync += widx.eq(widx + 1)
            with m.If(hdr & (widx[:4] == 15)):
                m.d.sync += [hdr.eq(0), remain.eq(Mux(total > 16, total - 16, 0)),
                             covered.eq(total > 16)]
        with m.If(take & hdr):
            with m.Switch(widx[:4]):
                for at, reg, hi in ((6, total, 0), (7, total, 1), (8, crc_exp, 0),
                                    (9, crc_exp, 1)):
                    with m.Case(at):
                        m.d.sync += reg[16 * hi:16 * hi + 16].eq(w)
                with m.Case(3):
                    m.d.sync += n_layers.eq(Mux(w > self.max_layers, 0, w))
                with m.Case(10):
                    m.d.sync += in_len.eq(w)
                with m.Case(11):
                    m.d.sync += classes.eq(w)

        # A failed check is registered (``failed``, read as the code ``pend``) and
        # takes effect a cycle later, in every state (``control``): no check's
        # compare is on a next-state path. One flag per error kind, each an OR of
        # its checks (no priority chain of ~30 checks in front of one register);
        # in the rare cycle that checks of two kinds fail, the kind listed first
        # below is the one reported.
        kinds = ("IMG_UNSUPPORTED", "IMG_CAPACITY", "IMG_FIELD")
        failed = {k: Signal(name=f"failed_{k[4:].lower()}") for k in kinds}
        m.d.sync += [f.eq(0) for f in failed.values()]
        pend = Const(0, 8)
        for k in reversed(kinds):
            pend = Mux(failed[k], CODE[k], pend)

        def fail(code):
            m.d.sync += failed[code].eq(1)

        with m.If((pend != 0) & (err == 0)):
            m.d.sync += err.eq(pend)

        stream_form = self.form == "stream"
        version = STREAM_VERSION if stream_form else IMAGE_VERSION
        # The header's identity (not an image, or one for another build) is checked
        # in every state, so an earlier error cannot hide it; it wins the verdict.
        identity_bad = Signal()
        with m.Switch(Mux(hdr, widx[:4], 15)):
            for at, good, code in ((0, w == IMAGE_MAGIC[0], "IMG_MAGIC"),
                                   (1, w == IMAGE_MAGIC[1], "IMG_MAGIC"),
                                   (2, w == version, "IMG_VERSION"),
                                   (4, w == N, "IMG_CONFIG"), (12, w == CB, "IMG_CONFIG"),
                                   *((13, w == self.sym_bits, "IMG_CONFIG"),) * stream_form):
                with m.Case(at):
                    m.d.comb += identity_bad.eq(~good)
                    with m.If(take & ~good & (herr == 0)):
                        m.d.sync += herr.eq(CODE[code])

        # ---- layer table: counters and the entry being assembled
        lay = Signal(range(self.max_layers + 1))
        d = Signal(5)                       # word within a descriptor
        ent = Signal(self.entry_layout)     # the descriptor's entry
        prev_out = Signal(16)
        ptr_next = Signal(18)               # where the next layer's pointers start
        row_next = Signal(17)
        # What the memories have left after them (``pointers - ptr_next``,
        # ``max_rows - C - row_next``; negative once overrun), kept beside them so
        # a descriptor's size is checked with one compare, not a sum and a compare.
        ptr_room, row_room = Signal(signed(19)), Signal(signed(19))
        L = Signal(self.entry_layout)       # the layer being loaded
        T, TB = self.table_words, self.max_rows
        # Derived from ``L`` once, in CONF, so no arithmetic on the table entry
        # sits in front of a state decision (the counters' compares).
        cb_last = Signal(9)                 # the codebook's last index
        inp_m1, out_m1 = Signal.like(L.inp), Signal.like(L.out)
        entry = Signal(self.entry_layout)   # the table entry the descriptor makes
        m.d.comb += entry.eq(ent)
        fetched = Signal(range(T + 2))      # words of the table entry read
        ta = Signal.like(self.bias_addr)    # the table word written (or entry read) next

        # ---- per-PE entry fill levels: a ring, the PE being loaded first, turned by
        # one at each PE's end (N turns per layer), so no fill level is indexed.
        fill = [Signal(self.abits + 1, name=f"fill{k}") for k in range(N)]
        a = fill[0]                         # PE ``k``'s next entry address
        k = Signal(range(N + 1))
        count = Signal(17)                  # words of the current section
        half = Signal(2)                    # word within a u32 pair / constant triple
        lo, mid = Signal(16), Signal(16)
        p = Cat(lo, w)                      # a u32 arriving with its high word
        pa = Signal(len(L.ptr_base))        # pointer address of the column
        cols_left = Signal(16)              # columns of PE ``k`` after this one
        left = Signal(16)                   # entries of the column still to come
        m.d.comb += [self.ld_addr.eq(0), self.ld_data.eq(0)]
        rbits = len(self.bias_addr)
        P = self.bias_bits
        C = 0 if self.row_consts else consts_words(P)   # constants' words per layer
        pw = Signal(rbits)                  # the parameter memory's next word

        ok_end = Signal()                   # the sections ran to the last layer's end
        verdict, ending = Signal(8), Signal()
        at_end = Signal()                   # ``ok_end`` last cycle
        m.d.sync += [
            at_end.eq(ok_end),
            verdict.eq(Mux(herr != 0, herr,
                           Mux(self.odd | (widx < 16) | (widx != total), CODE["IMG_LENGTH"],
                               Mux(~crc != crc_exp, CODE["IMG_CRC"],
                                   Mux(err != 0, err, Mux(pend != 0, pend,
                                       Mux(at_end, CODE["OK"], CODE["IMG_FIELD"]))))))),
            ending.eq(self.end & (crc_n == 0) & ~ending & ~self.finished & ~sv.build_busy),
        ]

        def control(name):
            # ``end`` gives the verdict, in the order the docstring gives (not in a
            # state between sections, which leaves by itself); ``begin`` restarts.
            # Called last in every state, so these win over its ``next``.
            if name not in ("IDLE", "FINISHED", "SKIP"):
                with m.If(pend != 0):
                    m.next = "SKIP"
            if name not in ("IDLE", "FINISHED", "FETCH", "CONF", "BIAS_END"):
                # The verdict is registered every cycle (``verdict``) and taken the
                # cycle after ``end`` is seen with the CRC done (``ending``): no
                # wide compare sits between the host link's ``end`` and the state.
                with m.If(ending):
                    m.d.sync += [self.status.eq(verdict),
                                 self.loaded.eq(verdict == CODE["OK"])]
                    m.next = "FINISHED"
            with m.If(self.begin):
                m.d.sync += [widx.eq(0), hdr.eq(1), remain.eq(0), covered.eq(0), herr.eq(0),
                             err.eq(0),
                             *(f.eq(0) for f in failed.values()),
                             self.loaded.eq(0), total.eq(0), crc_exp.eq(0), n_layers.eq(0),
                             crc.eq(0xFFFFFFFF), crc_n.eq(0), fetched.eq(0)]
                m.d.sync += [f.eq(0) for f in fill]
                m.next = "HDR"

        @contextmanager
        def state(name):
            with m.State(name):
                yield
                control(name)

        # A column's end moves the column counters (the next column, or the next
        # PE's first: the fill ring turns, PE ``k``'s level, in ``fill[0]`` by now,
        # to the back) the cycle after, off the path from the host's word: the
        # next word comes at least four cycles later. Before the FSM, so a
        # ``begin`` in the same cycle wins.
        col_done = Signal()
        m.d.sync += col_done.eq(0)
        with m.If(col_done):
            with m.If(cols_left != 0):
                m.d.sync += [pa.eq(pa + 1), cols_left.eq(cols_left - 1)]
            with m.Else():
                m.d.sync += [k.eq(k + 1), pa.eq(L.ptr_base), cols_left.eq(inp_m1)]
                m.d.sync += [fill[i].eq(fill[(i + 1) % N]) for i in range(N)]
        wq, dq, chk = Signal(16), Signal.like(d), Signal()   # a descriptor word's checks
        rowq, chk_ent = Signal(len(w[CB:] * N + k)), Signal()  # an entry's
        cntq, chk_cnt = Signal(len(w * N + k)), Signal()        # a binary column's count
        m.d.sync += [chk.eq(0), chk_ent.eq(0), chk_cnt.eq(0)]
        # The counters' compares the states decide on, registered: a counter moves
        # only in a cycle that acts on a word, in a state entered without one, or
        # (the column counters) the cycle after (``col_done``), and a body word is
        # acted on at most every fourth cycle (the CRC's pace), so each flag is
        # its counter's by the next word's cycle. ``w_nz`` is found as the word
        # arrives.
        at_cb, at_out, at_zero = Signal(), Signal(), Signal()
        left1, left2, col_last, w_nz = Signal(), Signal(), Signal(), Signal()
        m.d.sync += [at_cb.eq(count == cb_last), at_out.eq(count == out_m1),
                     at_zero.eq(count == 0), left1.eq(left == 1), left2.eq(left == 2),
                     col_last.eq((cols_left == 0) & (k == N - 1))]
        with m.If(arrive):
            m.d.sync += w_nz.eq(self.i.payload != 0)
        if stream_form:
            sv.update(want=want, take=take, w=w, fail=fail, L=L, lay=lay, fill=fill,
                      pa=pa, cols_left=cols_left, inp_m1=inp_m1, count=count, half=half)
            self._stream_table(m, sv)
        with m.FSM() as fsm:
            with state("IDLE"):
                pass
            with state("HDR"):
                m.d.comb += want.eq(1)
                with m.If(take):
                    with m.Switch(widx[:4]):
                        with m.Case(3):
                            with m.If((w == 0) | (w > self.max_layers)):
                                fail("IMG_CAPACITY")
                        with m.Case(0, 1, 2, 4, 12, *(13,) * stream_form):
                            with m.If(identity_bad):
                                m.next = "SKIP"
                        with m.Case(5):                 # the mode: the form's
                            with m.If(w != int(stream_form)):
                                fail("IMG_UNSUPPORTED")
                        with m.Case(10):
                            with m.If((w == 0) | (w > self.max_len)):
                                fail("IMG_CAPACITY")
                        with m.Case(11):
                            with m.If((w == 0) | (w > self.max_out)):
                                fail("IMG_CAPACITY")
                        with m.Case(15):
                            m.d.sync += [lay.eq(0), d.eq(0), prev_out.eq(in_len),
                                         ptr_next.eq(0), row_next.eq(0), ta.eq(TB),
                                         ptr_room.eq(self.pointers),
                                         row_room.eq(self.max_rows - C)]
                            m.next = "DESC"

            conv, pool = (ent.conv, ent.pool) if self.conv else (Const(0), Const(0))
            binary = ent.binary if self.xnor else Const(0)
            cols = Mux(binary, ent.groups, ent.inp) if self.xnor else ent.inp   # its pointers
            shaped = conv | pool            # the layer has a (c, h, w) input
            creg = Signal(16)               # the input's channels
            prod = Signal(32)               # the shape's products, one per word
            ohr, owr = Signal(17), Signal(17)   # its output's height and width
            small = Signal()                # the kernel or window is larger than the input
            olen = Signal(32)               # a convolution's or pool's output length
            mul_in = Signal(16, name="ma"), Signal(16, name="mb")   # the multiplier's operands
            if self.conv:
                m.d.sync += prod.eq(mul_in[0] * mul_in[1])

            with state("DESC"):
                m.d.comb += want.eq(1)
                with m.If(take):
                    m.d.sync += [d.eq(d + 1), wq.eq(w), dq.eq(d), chk.eq(1)]
                    if self.xnor:               # not ``Case``s: the shape's may share them
                        with m.If(d == 1):
                            m.d.sync += ent.binary.eq(w == 2)
                        with m.If(d == 18):
                            m.d.sync += ent.groups.eq(w)
                    if stream_form:
                        with m.If(d == 2):
                            m.d.sync += [ent.bias16.eq(w[2]), ent.rq1.eq(w[3])]
                        with m.If(d == 26):
                            m.d.sync += ent.gap.eq(w)
                        with m.If(d == 27):
                            m.d.sync += ent.lenb.eq(w)
                    with m.Switch(d):
                        with m.Case(0):
                            if self.conv:                        # fc, conv, maxpool
                                m.d.sync += [ent.conv.eq(w == 2), ent.pool.eq(w == 3)]
                        with m.Case(2):
                            m.d.sync += [ent.relu.eq(w[0]), ent.last.eq(w[1])]
                        with m.Case(3):
                            m.d.sync += ent.inp.eq(w)
                        with m.Case(4):
                            m.d.sync += ent.out.eq(w)
                        with m.Case(13):
                            m.d.sync += ent.cb_bits.eq(w)
                        if self.conv:
                            self._shape_words(m, w, ent, fail, creg, prod, mul_in, ohr, owr,
                                              small, olen, prev_out)
                        for j in range(T):        # the table entry, a word at a time
                            with m.Case(32 - T + j):
                                m.d.comb += [
                                    self.bias_we.eq(1), self.bias_addr.eq(ta),
                                    self.bias_data.eq(Value.cast(entry)[P * j:
                                                                        P * (j + 1)])]
                                m.d.sync += ta.eq(ta + 1)
                    with m.Switch(d):
                        with m.Case(31):
                            m.d.sync += [ptr_next.eq(ptr_next + cols),
                                         row_next.eq(row_next + Mux(pool, 0, ent.out + C)),
                                         ptr_room.eq(ptr_room - cols),
                                         row_room.eq(row_room - Mux(pool, 0, ent.out + C)),
                                         prev_out.eq(Mux(shaped, olen, ent.out)),
                                         lay.eq(lay + 1)]
                            # The capacity check's compare only sets its flag: the
                            # next state does not wait for it (a failure leaves FETCH
                            # for SKIP a cycle later, through ``pend``).
                            with m.If(cols > ptr_room):
                                fail("IMG_CAPACITY")
                            with m.If(lay == n_layers - 1):
                                m.d.sync += [lay.eq(0), ta.eq(TB)]
                                m.next = "FETCH"
                m.d.comb += [entry.ptr_base.eq(ptr_next), entry.row_base.eq(row_next),
                             entry.bank.eq(lay)]

            with state("FETCH"):               # the table entry of layer ``lay``
                with m.If(read_words(m, count=fetched, base=ta,
                                     port_addr=self.tbl_addr, port_data=self.tbl_data,
                                     target=L)):
                    m.d.sync += ta.eq(ta + T)
                    m.next = "CONF"
            with state("CONF"):
                L_cols = Mux(L.binary, L.groups, L.inp) if self.xnor else L.inp
                m.d.sync += [count.eq(0), pw.eq(L.row_base), fetched.eq(0),
                             cb_last.eq((Const(1, 9) << L.cb_bits) - 1),
                             inp_m1.eq(L_cols - 1), out_m1.eq(L.out - 1)]
                if stream_form:
                    m.d.sync += [sv.nsym.eq(Const(1, len(sv.nsym)) << (L.gap + L.cb_bits)),
                                 sv.cb_mask.eq((Const(1, 8) << L.cb_bits) - 1)]
                m.next = "CBOOK"
                if self.xnor:                   # a binary layer has no codebook
                    with m.If(L.binary):
                        m.d.sync += [k.eq(0), pa.eq(L.ptr_base), cols_left.eq(L_cols - 1)]
                        m.next = "COUNT"
                if self.conv:                   # a pool has no sections
                    with m.If(L.pool):
                        m.d.sync += lay.eq(lay + 1)
                        m.next = "FETCH"

            with state("CBOOK"):
                m.d.comb += [want.eq(1), self.ld_all.eq(1), self.ld_mem.eq(MEM_CB),
                             self.ld_addr.eq(Cat(count[:CB], lay)), self.ld_data.eq(w)]
                with m.If(take):
                    m.d.comb += self.ld_we.eq(1)
                    m.d.sync += count.eq(count + 1)
                    # The value's check only sets its flag (a failure leaves for
                    # SKIP a cycle later, through ``pend``): no compare of the
                    # word is in front of the state.
                    with m.If((w[7:] != 0) & (w[7:] != 0x1FF)):
                        fail("IMG_FIELD")
                    with m.If(at_cb):
                        m.d.sync += [k.eq(0), pa.eq(L.ptr_base), cols_left.eq(inp_m1)]
                        m.next = "TOKENS" if stream_form else "COUNT"
                        if stream_form:
                            m.d.sync += [sv.tok.eq(0), sv.tn.eq(0), sv.sidx.eq(0),
                                         sv.sleft.eq(sv.nsym), sv.described.eq(0),
                                         sv.zrun.eq(0)]

            def next_column():
                # The column is done: the next one, or the next PE's first, or after
                # the last PE's last column, the biases (``col_done`` moves the
                # counters and turns the fill ring a cycle later).
                m.d.sync += col_done.eq(1)
                with m.If(col_last):
                    m.d.sync += [count.eq(0), half.eq(0)]
                    m.next = "BIAS"
                with m.Else():
                    m.next = "COUNT"

            with state("COUNT"):               # a column's entry count: its pointer word
                m.d.comb += [want.eq(1), self.ld_pe.eq(k), self.ld_mem.eq(MEM_PTR),
                             self.ld_addr.eq(pa),
                             self.ld_data.eq(pointer_word(a, w, self.abits))]
                with m.If(take):
                    m.d.comb += self.ld_we.eq(1)
                    m.d.sync += left.eq(w)
                    if self.xnor:               # a binary column holds the PE's rows
                        m.d.sync += [cntq.eq(w * N + k), chk_cnt.eq(L.binary)]
                    with m.If(w_nz):
                        m.next = "ENT"
                    with m.Else():
                        next_column()

            with state("ENT"):
                m.d.comb += [want.eq(1), self.ld_pe.eq(k), self.ld_mem.eq(MEM_ENT),
                             self.ld_addr.eq(a[:self.abits]),
                             self.ld_data.eq(Cat(w[:NEXT_LAST], left2))]
                with m.If(take):
                    m.d.comb += self.ld_we.eq(1)
                    m.d.sync += [a.eq(a + 1), left.eq(left - 1)]
                    # The entry's row and code are checked a cycle later (``chk_ent``),
                    # as a descriptor's words are; a full memory at once.
                    m.d.sync += [rowq.eq(w[CB:] * N + k), wq.eq(w), chk_ent.eq(~self._full(a))]
                    with m.If(self._full(a)):
                        fail("IMG_CAPACITY")
                    with m.If(left1):
                        next_column()

            if stream_form:
                self._stream_states(m, state, sv)

            # 16-bit biases (the stream form's flag) are a word each, sign-extended.
            b16 = L.bias16 if stream_form else Const(0)
            with state("BIAS"):
                m.d.comb += [want.eq(1), self.bias_addr.eq(pw),
                             self.bias_data.eq(Mux(b16, w.as_signed(), p if P == 32 else lo))]
                with m.If(take):
                    m.d.sync += half.eq(~half[0] & ~b16)
                    with m.If((half[0] == 0) & ~b16):
                        m.d.sync += lo.eq(w)
                    with m.Else():
                        m.d.comb += self.bias_we.eq(1)
                        m.d.sync += pw.eq(pw + 1)
                        if P == 16:             # the high word only extends the sign
                            with m.If(~b16 & (w != Mux(lo[15], 0xFFFF, 0))):
                                fail("IMG_CAPACITY")
                        m.d.sync += count.eq(count + 1)
                        with m.If(at_out):
                            m.d.sync += [count.eq(0), half.eq(0)]
                            m.next = "BIAS_END"

            with state("BIAS_END"):
                with m.If(L.last):
                    m.d.sync += lay.eq(lay + 1)
                    m.next = "DONE"
                with m.Else():
                    m.next = "RQ"

            # Per-layer constants: the first row's words follow the biases in the
            # parameter memory (M0 in 16-bit words, or whole, then the shift:
            # ``consts_words``) and are kept; every other row's must equal them.
            first = [Signal(16, name="first_lo"), Signal(16, name="first_mid"),
                     Signal(5, name="first_shift")]
            with state("RQ"):
                m.d.comb += [want.eq(1), self.rq_addr.eq((L.row_base + count)[:rbits]),
                             self.rq_data.eq(Cat(lo, mid[:15], w[:5]))]
                if not self.row_consts:
                    written = (0, 1, 2) if P == 16 else (1, 2)
                    m.d.comb += [self.bias_addr.eq(pw),
                                 self.bias_data.eq(Cat(lo, w) if P == 32 else w)]
                    with m.Switch(half):
                        for h in (0, 1, 2):
                            with m.Case(h):
                                if h == 2 and P == 32:
                                    m.d.comb += self.bias_data.eq(w)
                                with m.If(take & at_zero):
                                    m.d.comb += self.bias_we.eq(h in written)
                                    m.d.sync += first[h].eq(w)
                                    if h in written:
                                        m.d.sync += pw.eq(pw + 1)
                                with m.If(take & ~at_zero & (w != first[h])):
                                    fail("IMG_UNSUPPORTED")
                with m.If(take):
                    m.d.sync += half.eq(Mux(half == 2, 0, half + 1))
                    with m.If(half == 0):
                        m.d.sync += lo.eq(w)
                    with m.Elif(half == 1):
                        m.d.sync += mid.eq(w)
                        with m.If(w[15]):
                            fail("IMG_FIELD")
                    with m.Else():
                        # A bad shift is written and counted like a good one: its
                        # flag sends the loader to SKIP a cycle later.
                        with m.If(w > 31):
                            fail("IMG_FIELD")
                        m.d.comb += self.rq_we.eq(self.row_consts)
                        m.d.sync += count.eq(count + 1)
                        with m.If(at_out):
                            m.d.sync += lay.eq(lay + 1)
                            m.next = "FETCH"
                        if stream_form:         # one record for every row
                            with m.Elif(L.rq1):
                                if self.row_consts:
                                    m.next = "RQ_FILL"
                                else:
                                    m.d.sync += lay.eq(lay + 1)
                                    m.next = "FETCH"

            if stream_form and self.row_consts:
                # The layer's record, written to its other rows (``w`` still
                # holds the shift: no word is taken here).
                with state("RQ_FILL"):
                    m.d.comb += [self.rq_we.eq(1),
                                 self.rq_addr.eq((L.row_base + count)[:rbits]),
                                 self.rq_data.eq(Cat(lo, mid[:15], w[:5]))]
                    m.d.sync += count.eq(count + 1)
                    with m.If(count == out_m1):
                        m.d.sync += lay.eq(lay + 1)
                        m.next = "FETCH"

            with state("DONE"):
                m.d.comb += [want.eq(1), ok_end.eq(1)]
            with state("SKIP"):
                m.d.comb += want.eq(1)
            with state("FINISHED"):
                pass

        # The descriptor's checks of its words 0..3 and 13 run the cycle after
        # the word is taken, on its copy (``wq``): a word is taken at most every
        # fourth cycle (the CRC), so they end in ``pend`` before the next one
        # comes, and no word's compares sit in front of a state register. What
        # they compare with (``ent``'s earlier fields, ``lay``, ``prev_out``,
        # ``row_room``) changes only with word 31 or a later word.
        with m.If(chk):
            with m.Switch(dq):
                with m.Case(0):
                    with m.If(((wq == 0) | (wq > 3)) if self.conv else (wq != 1)):
                        fail("IMG_UNSUPPORTED")              # fc (conv, maxpool)
                with m.Case(1):
                    # Shared (a pool: none; with ``xnor``, a fully connected layer
                    # may be binary).
                    ok = (wq == 1) | ((wq == 2) & ~conv) if self.xnor else wq == 1
                    with m.If(Mux(pool, wq != 0, ~ok)):
                        fail("IMG_UNSUPPORTED")
                with m.Case(2):
                    is_last = lay == n_layers - 1
                    with m.If(shaped & wq[1]):               # the last is fully connected
                        fail("IMG_UNSUPPORTED")
                    # The stream form's flags: bits 2 (16-bit biases) and 3 (one
                    # requantization record).
                    with m.Elif((wq[1] != is_last) | (wq[4 if stream_form else 2:] != 0)
                                | (pool & wq[0])):
                        fail("IMG_FIELD")
                with m.Case(3):
                    # A convolution's is its patch (checked below), a pool's 0.
                    with m.If(Mux(conv, 0, wq != Mux(pool, 0, prev_out))):
                        fail("IMG_FIELD")
                with m.Case(13):
                    with m.If(Mux(pool | binary, wq != 0, (wq == 0) | (wq > CB))):
                        fail("IMG_FIELD")
                if stream_form:
                    with m.Case(26):
                        with m.If((wq == 0) | (wq > 8) | (wq + ent.cb_bits > self.sym_bits)):
                            fail("IMG_FIELD")
                    with m.Case(27):
                        with m.If((wq == 0) | (wq > MAX_LEN_BITS)):
                            fail("IMG_FIELD")
                        with m.Elif(wq > self.len_bits):
                            fail("IMG_CAPACITY")
                if self.xnor:
                    # ``ceil(inp / 15)`` groups: ``15 * groups - inp`` in 0..14.
                    with m.Case(18):
                        spare = wq * XNOR_GROUP - ent.inp
                        with m.If(binary & ((wq * XNOR_GROUP < ent.inp)
                                            | (spare >= XNOR_GROUP))):
                            fail("IMG_FIELD")

        # Word 4's (the output length's) checks and an entry's run a cycle later
        # still, on compares registered from ``wq`` (which holds until the next
        # word): the room compare's carry chain and the entry's are each a path
        # of their own, not in front of the flags.
        chk4, over_room = Signal(), Signal()
        m.d.sync += [chk4.eq(chk & (dq == 4)), over_room.eq(wq > row_room)]
        with m.If(chk4):
            last = lay == n_layers - 1
            with m.If(pool):
                with m.If(wq != 0):
                    fail("IMG_FIELD")
            with m.Elif((wq == 0) | (wq > N * self.rows_per_pe) | over_room
                        | (~last & (wq > self.max_len))):
                fail("IMG_CAPACITY")
            with m.Elif(last & (wq != classes)):
                fail("IMG_FIELD")

        bad_ent = (rowq >= L.out) | (wq[:CB] > cb_last)
        if self.xnor:
            # A sign word has no row or code, and bit 15 clear; its column holds
            # one per row of the PE: ``count * N + k`` in ``out .. out + N - 1``.
            bad_ent = Mux(L.binary, wq[15], bad_ent)
            cnt_bad = Signal()
            m.d.sync += cnt_bad.eq(chk_cnt & ((cntq < L.out) | (cntq >= L.out + N)))
            with m.If(cnt_bad):
                fail("IMG_FIELD")
        ent_bad = Signal()
        m.d.sync += ent_bad.eq(chk_ent & bad_ent)
        with m.If(ent_bad):
            fail("IMG_FIELD")
        fsm.state.attrs["fsm_encoding"] = "one-hot"     # as ``HostLink``'s
        m.d.comb += self.finished.eq(fsm.ongoing("FINISHED"))
        return m
