"""The host end of a board's UART: ``golden.hwmodel.protocol``'s link over pyserial."""

from __future__ import annotations

import time

from golden.hwmodel.protocol import LinkError

__all__ = ["SerialLink"]


class SerialLink:
    """``send``/``recv`` on serial port ``port`` (8N1 at ``baud``). ``recv`` waits at
    most ``timeout`` seconds for its bytes and raises ``LinkError`` (one line) if
    they do not all come; a port that cannot be opened is a ``LinkError`` too."""

    def __init__(self, port: str, *, baud: int = 115200, timeout: float = 2.0):
        import serial  # noqa: PLC0415

        try:
            self.port = serial.Serial(port, baudrate=baud, timeout=0.05)
        except (serial.SerialException, OSError) as e:
            raise LinkError(f"cannot open {port}: {getattr(e, 'strerror', None) or e}") from None
        self.name, self.timeout = port, timeout
        self.port.reset_input_buffer()

    async def send(self, data: bytes):
        self.port.write(data)
        self.port.flush()

    async def recv(self, n: int) -> bytes:
        out = bytearray()
        deadline = time.monotonic() + self.timeout
        while len(out) < n:
            out += self.port.read(n - len(out))
            if len(out) < n and time.monotonic() > deadline:
                got = f"{len(out)} of {n} bytes" if out else "nothing"
                raise LinkError(f"the board on {self.name} sent {got} within {self.timeout} s "
                                "(not a Zipcore bitstream, or not running?)")
        return bytes(out)

    def close(self):
        self.port.close()
