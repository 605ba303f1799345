"""Crafted files for the tests of hostile inputs: valid headers that declare what the data does not hold,
or sizes that are legal but absurd, built in memory at a few kilobytes each."""

import io
import struct
import wave
import zlib


def png_rows(width: int, height: int) -> bytes:
    """A valid grey PNG of width x height black pixels, built row by row (a 1 x 49,999,999 one is 97 KB)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    z, row, parts = zlib.compressobj(1), bytes(1 + width), []
    block = row * max(1, 2_000_000 // len(row))
    for start in range(0, height, len(block) // len(row)):
        parts.append(z.compress(block[: min(len(block), (height - start) * len(row))]))
    parts.append(z.flush())
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", b"".join(parts))
        + chunk(b"IEND", b"")
    )


def npy_header(shape, dtype="<u1") -> bytes:
    """A version 1.0 .npy header declaring `shape` (the data that follows is up to the caller)."""
    header = repr({"descr": dtype, "fortran_order": False, "shape": tuple(shape)}).encode()
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header


def wav_declaring(frames_declared: int, rate: int, data: bytes = b"\0" * 64) -> bytes:
    """A 16-bit mono WAV holding `data`, whose header declares `frames_declared` frames at `rate` Hz."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(8000)
        fh.writeframes(data)
    raw = bytearray(buf.getvalue())
    raw[24:28] = struct.pack("<I", rate)  # the fmt chunk's sample rate
    raw[28:32] = struct.pack("<I", rate * 2 % 2**32)
    raw[40:44] = struct.pack("<I", frames_declared * 2)  # the data chunk's size
    return bytes(raw)
