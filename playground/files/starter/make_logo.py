"""Draw the starter site's logo.png with the standard library only.

Run ``python playground/starter/make_logo.py`` to regenerate the committed file. The
image is ours (no copyright questions for a classroom): a red disc with a white "H".
"""

import math
import struct
import zlib
from pathlib import Path

SIZE = 128
RED = (214, 40, 40, 255)
WHITE = (255, 255, 255, 255)
CLEAR = (0, 0, 0, 0)


def pixel(x: int, y: int) -> tuple[int, int, int, int]:
    centre = (SIZE - 1) / 2
    if math.hypot(x - centre, y - centre) > SIZE / 2 - 2:
        return CLEAR
    # The "H": two uprights and a bar, in the middle of the disc.
    in_left = 36 <= x < 54
    in_right = 74 <= x < 92
    in_bar = 54 <= x < 74 and 56 <= y < 72
    if 30 <= y < 98 and (in_left or in_right) or in_bar:
        return WHITE
    return RED


def png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


if __name__ == "__main__":
    out = Path(__file__).with_name("logo.png")
    out.write_bytes(png(SIZE, SIZE))
    print(f"wrote {out} ({out.stat().st_size} bytes)")
