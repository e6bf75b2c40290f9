"""The engine's host protocol: bytes in, bytes out, the same over a UART and in
simulation. ``docs/PROTOCOL.md`` is its description; this module holds its
numbers and the host side (``EngineClient``), which the RTL tests, ``zipcore
simulate`` and board verification share.

Every request is a command byte and its arguments; every response starts with
a status byte (``OK`` or an error code from ``STATUS``) and, for ``OK``, the
command's data. All integers are little-endian.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

__all__ = ["PROTOCOL_VERSION", "CMD", "STATUS", "EngineInfo", "EngineError", "LinkError",
           "EngineClient", "INFO_BYTES"]

PROTOCOL_VERSION = 3

CMD = {
    "info": 0x01,       # -> status, 16 info bytes
    "load": 0x02,       # u32 n, n image bytes -> status
    "input": 0x03,      # u16 n, n int8 -> status
    "run": 0x04,        # -> status when the inference is done
    "output": 0x05,     # -> status, u16 n, n int32
    "counters": 0x06,   # -> status, u32 cycles, u32 sparse-phase cycles, u32 useful MACs
    "status": 0x07,     # -> status, u8 last error (cleared), u8 flags
}

# status byte -> (name, one-line meaning)
STATUS = {
    0x00: ("OK", "ok"),
    0x01: ("BAD_COMMAND", "unknown command byte"),
    0x02: ("NO_MODEL", "no valid model image is loaded"),
    0x03: ("BAD_LENGTH", "input length differs from the model's"),
    0x04: ("NO_INPUT", "run without an input written since the last load or run"),
    0x05: ("NO_OUTPUT", "output read without a run since the last load or input"),
    0x06: ("BAD_STREAM", "the run stopped on a corrupt weight stream (a bit pattern that is "
                         "no code, or a code past its segment): reload the model"),
    0x10: ("IMG_MAGIC", "not a Zipcore memory image (bad magic)"),
    0x11: ("IMG_VERSION", "memory image version is not the one this engine reads"),
    0x12: ("IMG_CONFIG", "memory image built for another engine (PEs or code field)"),
    0x13: ("IMG_CAPACITY", "the model does not fit this engine's memories"),
    0x14: ("IMG_UNSUPPORTED", "the model has a layer kind this engine does not run"),
    0x15: ("IMG_FIELD", "memory image field out of range or inconsistent"),
    0x16: ("IMG_LENGTH", "image byte count differs from the length in its header"),
    0x17: ("IMG_CRC", "memory image CRC mismatch"),
}
CODE = {name: code for code, (name, _) in STATUS.items()}

INFO_BYTES = 16
FLAG_LOADED, FLAG_INPUT, FLAG_OUTPUT = 1, 2, 4


@dataclass(frozen=True)
class EngineInfo:
    """What ``info`` reports: the build's parameters."""

    version: int
    n_pe: int
    queue_depth: int
    code_bits: int
    max_layers: int
    rows_per_pe: int
    max_len: int
    max_rows: int
    max_out: int
    pointers: int
    entries: int
    xnor: bool = False      # binary layers run on the XNOR path (the image's sign words)
    sym_bits: int = 0       # the stream form's symbol field (0: the engine runs expanded images)

    @property
    def form(self) -> str:
        """The memory image form the engine loads."""
        return "stream" if self.sym_bits else "expanded"

    def pack(self) -> bytes:
        return struct.pack("<6B5H", self.version, self.n_pe, self.queue_depth,
                           self.code_bits | self.xnor << 7,
                           self.max_layers,
                           self.rows_per_pe.bit_length() - 1 | self.sym_bits << 4,
                           self.max_len, self.max_rows, self.max_out, self.pointers,
                           self.entries)

    @classmethod
    def unpack(cls, b: bytes) -> EngineInfo:
        v, n, d, cb, layers, rlog, ml, mr, mo, p, e = struct.unpack("<6B5H", b)
        return cls(v, n, d, cb & 0x7F, layers, 1 << (rlog & 15), ml, mr, mo, p, e,
                   bool(cb >> 7), rlog >> 4)


class EngineError(RuntimeError):
    """The engine answered with an error status; the message is one line."""

    def __init__(self, code: int, command: str):
        self.code = code
        name, what = STATUS.get(code, (f"0x{code:02x}", "unknown status"))
        self.name = name
        super().__init__(f"{command}: engine status {name}: {what}")


class LinkError(RuntimeError):
    """The link broke: no answer, a short answer or garbage; one line."""


class EngineClient:
    """The host side of the protocol over ``link``, an object with ``async
    send(data: bytes)`` and ``async recv(n: int) -> bytes`` (exactly ``n`` bytes,
    or ``LinkError``). Every method raises ``EngineError`` on an error status."""

    def __init__(self, link):
        self.link = link

    async def _status(self, command: str):
        s = (await self.link.recv(1))[0]
        if s not in STATUS:
            raise LinkError(f"{command}: the engine answered 0x{s:02x}, not a status byte")
        if s:
            raise EngineError(s, command)

    async def info(self) -> EngineInfo:
        await self.link.send(bytes([CMD["info"]]))
        await self._status("info")
        info = EngineInfo.unpack(await self.link.recv(INFO_BYTES))
        if info.version != PROTOCOL_VERSION:
            raise LinkError(f"info: the engine speaks protocol {info.version}, this host "
                            f"{PROTOCOL_VERSION}")
        return info

    async def load(self, image: bytes):
        await self.link.send(bytes([CMD["load"]]) + struct.pack("<I", len(image)) + image)
        await self._status("load")

    async def write_input(self, x):
        x = np.asarray(x, dtype=np.int64).ravel()
        await self.link.send(bytes([CMD["input"]]) + struct.pack("<H", len(x))
                             + (x & 0xFF).astype(np.uint8).tobytes())
        await self._status("input")

    async def run(self):
        await self.link.send(bytes([CMD["run"]]))
        await self._status("run")

    async def output(self) -> np.ndarray:
        await self.link.send(bytes([CMD["output"]]))
        await self._status("output")
        (n,) = struct.unpack("<H", await self.link.recv(2))
        return np.frombuffer(await self.link.recv(4 * n), dtype="<i4").astype(np.int64)

    async def counters(self) -> dict:
        await self.link.send(bytes([CMD["counters"]]))
        await self._status("counters")
        cycles, mac_cycles, macs = struct.unpack("<3I", await self.link.recv(12))
        return {"cycles": cycles, "mac_cycles": mac_cycles, "macs": macs}

    async def status(self) -> tuple[int, int]:
        """The last error status (cleared by this read) and the flags
        (``FLAG_LOADED | FLAG_INPUT | FLAG_OUTPUT``)."""
        await self.link.send(bytes([CMD["status"]]))
        await self._status("status")
        err, flags = await self.link.recv(2)
        return err, flags

    async def infer(self, x) -> tuple[np.ndarray, dict]:
        """One inference: write ``x``, run, read the output and the counters."""
        await self.write_input(x)
        await self.run()
        return await self.output(), await self.counters()
