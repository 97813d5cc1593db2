"""Small, dependency-free image encoders for the fake server's render results.

The fake server does not render: it encodes a uniform image of the renderer's background colour.
The bytes are nevertheless real files (a PNG any decoder reads, a baseline JFIF JPEG, an OpenEXR
header), so clients can check magic bytes, sizes and even decode them.
"""

from __future__ import annotations

import struct
import zlib

__all__ = ["encode_exr", "encode_jpeg", "encode_png"]


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def encode_png(width: int, height: int, rgba: tuple[int, int, int, int], level: int) -> bytes:
    """Encode a uniform 8-bit RGBA PNG (Brayns' snapshot pixel format) with zlib ``level``.

    Level 0 stores the pixels uncompressed, so the file is a little over ``width * height * 4``
    bytes: the way to obtain large binary replies on purpose.
    """
    row = b"\x00" + bytes(rgba) * width  # filter type 0 (None) + pixels
    raw = row * height
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(raw, level)),
            _chunk(b"IEND", b""),
        )
    )


# ITU T.81 Annex K tables.
_LUMA_QUANT = (
    16,
    11,
    10,
    16,
    24,
    40,
    51,
    61,
    12,
    12,
    14,
    19,
    26,
    58,
    60,
    55,
    14,
    13,
    16,
    24,
    40,
    57,
    69,
    56,
    14,
    17,
    22,
    29,
    51,
    87,
    80,
    62,
    18,
    22,
    37,
    56,
    68,
    109,
    103,
    77,
    24,
    35,
    55,
    64,
    81,
    104,
    113,
    92,
    49,
    64,
    78,
    87,
    103,
    121,
    120,
    101,
    72,
    92,
    95,
    98,
    112,
    100,
    103,
    99,
)
_CHROMA_QUANT = (
    17,
    18,
    24,
    47,
    99,
    99,
    99,
    99,
    18,
    21,
    26,
    66,
    99,
    99,
    99,
    99,
    24,
    26,
    56,
    99,
    99,
    99,
    99,
    99,
    47,
    66,
    99,
    99,
    99,
    99,
    99,
    99,
    99,
    99,
    99,
    99,
    99,
    99,
    99,
    99,
    99,
    99,
    99,
    99,
    99,
    99,
    99,
    99,
    99,
    99,
    99,
    99,
    99,
    99,
    99,
    99,
    99,
    99,
    99,
    99,
    99,
    99,
    99,
    99,
)
_DC_LUMA_BITS = (0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0)
_DC_CHROMA_BITS = (0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0)
_DC_VALUES = tuple(range(12))
# Only the EOB symbol (0x00) is ever used for AC coefficients of a uniform image: a one-symbol
# table keeps the encoder small and the file valid.
_AC_BITS = (1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
_AC_VALUES = (0,)


def _huffman_codes(bits: tuple[int, ...], values: tuple[int, ...]) -> dict[int, tuple[int, int]]:
    codes: dict[int, tuple[int, int]] = {}
    code = 0
    index = 0
    for length in range(1, 17):
        for _ in range(bits[length - 1]):
            codes[values[index]] = (code, length)
            code += 1
            index += 1
        code <<= 1
    return codes


def _scaled(table: tuple[int, ...], quality: int) -> list[int]:
    quality = min(max(quality, 1), 100)
    scale = 5000 // quality if quality < 50 else 200 - quality * 2
    return [min(max((q * scale + 50) // 100, 1), 255) for q in table]


class _BitWriter:
    def __init__(self) -> None:
        self.out = bytearray()
        self._acc = 0
        self._count = 0

    def write(self, code: int, length: int) -> None:
        self._acc = (self._acc << length) | code
        self._count += length
        while self._count >= 8:
            self._count -= 8
            byte = (self._acc >> self._count) & 0xFF
            self.out.append(byte)
            if byte == 0xFF:
                self.out.append(0x00)  # byte stuffing
        self._acc &= (1 << self._count) - 1

    def flush(self) -> bytes:
        if self._count:
            self.write((1 << (8 - self._count)) - 1, 8 - self._count)
        return bytes(self.out)


def _dc_bits(diff: int) -> tuple[int, int, int]:
    """Return (category, extra bits, extra length) for a DC difference."""
    if diff == 0:
        return 0, 0, 0
    category = abs(diff).bit_length()
    extra = diff if diff > 0 else diff + (1 << category) - 1
    return category, extra, category


def encode_jpeg(width: int, height: int, rgb: tuple[int, int, int], quality: int) -> bytes:
    """Encode a uniform baseline JFIF JPEG (4:4:4 YCbCr, standard DC tables, EOB-only AC)."""
    r, g, b = rgb
    samples = (
        0.299 * r + 0.587 * g + 0.114 * b,
        128 - 0.168736 * r - 0.331264 * g + 0.5 * b,
        128 + 0.5 * r - 0.418688 * g - 0.081312 * b,
    )
    luma_q = _scaled(_LUMA_QUANT, quality)
    chroma_q = _scaled(_CHROMA_QUANT, quality)
    quants = (luma_q, chroma_q, chroma_q)
    # The DCT of a uniform block has only a DC term, equal to 8 * (sample - 128).
    dcs = [round(8 * (s - 128) / q[0]) for s, q in zip(samples, quants, strict=True)]
    dc_luma = _huffman_codes(_DC_LUMA_BITS, _DC_VALUES)
    dc_chroma = _huffman_codes(_DC_CHROMA_BITS, _DC_VALUES)
    eob = _huffman_codes(_AC_BITS, _AC_VALUES)[0]
    dc_tables = (dc_luma, dc_chroma, dc_chroma)

    writer = _BitWriter()
    mcus = ((width + 7) // 8) * ((height + 7) // 8)
    # First MCU: the full DC value as a difference from 0; every later one: difference 0.
    for component in range(3):
        category, extra, length = _dc_bits(dcs[component])
        writer.write(*dc_tables[component][category])
        if length:
            writer.write(extra, length)
        writer.write(*eob)
    zero_mcu = [(dc_tables[c][0], eob) for c in range(3)]
    for _ in range(mcus - 1):
        for dc_code, eob_code in zero_mcu:
            writer.write(*dc_code)
            writer.write(*eob_code)
    scan = writer.flush()

    def segment(marker: int, payload: bytes) -> bytes:
        return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload

    zigzag_luma = bytes(luma_q[i] for i in _ZIGZAG)
    zigzag_chroma = bytes(chroma_q[i] for i in _ZIGZAG)
    huffman = b"".join(
        bytes([klass_id]) + bytes(bits) + bytes(values)
        for klass_id, bits, values in (
            (0x00, _DC_LUMA_BITS, _DC_VALUES),
            (0x01, _DC_CHROMA_BITS, _DC_VALUES),
            (0x10, _AC_BITS, _AC_VALUES),
        )
    )
    frame = struct.pack(">BHHB", 8, height, width, 3) + bytes((1, 0x11, 0, 2, 0x11, 1, 3, 0x11, 1))
    scan_header = bytes((3, 1, 0x00, 2, 0x10, 3, 0x10, 0, 63, 0))
    return b"".join(
        (
            b"\xff\xd8",
            segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"),
            segment(0xDB, b"\x00" + zigzag_luma + b"\x01" + zigzag_chroma),
            segment(0xC0, frame),
            segment(0xC4, huffman),
            segment(0xDA, scan_header),
            scan,
            b"\xff\xd9",
        )
    )


# Natural-order index of each zig-zag position.
_ZIGZAG = (
    0,
    1,
    8,
    16,
    9,
    2,
    3,
    10,
    17,
    24,
    32,
    25,
    18,
    11,
    4,
    5,
    12,
    19,
    26,
    33,
    40,
    48,
    41,
    34,
    27,
    20,
    13,
    6,
    7,
    14,
    21,
    28,
    35,
    42,
    49,
    56,
    57,
    50,
    43,
    36,
    29,
    22,
    15,
    23,
    30,
    37,
    44,
    51,
    58,
    59,
    52,
    45,
    38,
    31,
    39,
    46,
    53,
    60,
    61,
    54,
    47,
    55,
    62,
    63,
)


def encode_exr(width: int, height: int, channels: list[str]) -> bytes:
    """Return an OpenEXR header (magic ``76 2f 31 01``) describing the requested g-buffers.

    Only the header and an empty offset table are produced: enough for clients that check the
    magic bytes and size, not a decodable image.
    """

    def attribute(name: str, kind: str, value: bytes) -> bytes:
        return (
            name.encode()
            + b"\x00"
            + kind.encode()
            + b"\x00"
            + struct.pack("<i", len(value))
            + value
        )

    names = {
        "color": ("R", "G", "B", "A"),
        "depth": ("Z",),
        "albedo": ("albedo.R", "albedo.G", "albedo.B"),
        "normal": ("normal.X", "normal.Y", "normal.Z"),
    }
    chlist = (
        b"".join(
            n.encode() + b"\x00" + struct.pack("<iB3xii", 2, 0, 1, 1)
            for channel in channels
            for n in names.get(channel, (channel,))
        )
        + b"\x00"
    )
    window = struct.pack("<iiii", 0, 0, max(width - 1, 0), max(height - 1, 0))
    header = b"".join(
        (
            attribute("channels", "chlist", chlist),
            attribute("compression", "compression", b"\x00"),
            attribute("dataWindow", "box2i", window),
            attribute("displayWindow", "box2i", window),
            attribute("lineOrder", "lineOrder", b"\x00"),
            attribute("pixelAspectRatio", "float", struct.pack("<f", 1.0)),
            attribute("screenWindowCenter", "v2f", struct.pack("<ff", 0.0, 0.0)),
            attribute("screenWindowWidth", "float", struct.pack("<f", 1.0)),
            b"\x00",
        )
    )
    offsets = b"\x00" * 8 * height
    return b"\x76\x2f\x31\x01" + struct.pack("<I", 2) + header + offsets
