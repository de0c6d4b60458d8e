"""Label Studio's brush masks: the ``rle`` list of a ``brushlabels`` result, to and from masks.

The list holds the bytes of a bit stream (the thi.ng rle-pack layout Label Studio uses) over the
image's RGBA values, row by row: a header of the value count (32 bits), the word size minus one
(5 bits) and four run-length field sizes minus one (4 bits each), then blocks of a repeat flag
(1 bit), a field-size index (2 bits) and the block's length minus one in that many bits,
followed by one word (repeat: the value ``length`` times) or ``length`` words (literal). The
stream is padded with zero bits to whole bytes. A mask pixel is 255 in all four channels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from garmentparse import masks

_FIELDS = (3, 4, 8, 16)  # run-length field sizes, in bits
_WORD = 8  # bits per value (RGBA bytes)


def encode(binary: np.ndarray) -> list[int]:
    """The brush ``rle`` of an (H, W) binary mask: repeat blocks only, one per run of pixels."""
    pixels = np.asarray(binary).reshape(-1) > 0
    bits = [f"{pixels.size * 4:032b}{_WORD - 1:05b}" + "".join(f"{f - 1:04b}" for f in _FIELDS)]
    if pixels.size:
        starts = np.concatenate(([0], np.flatnonzero(pixels[1:] != pixels[:-1]) + 1))
        lengths = np.diff(np.append(starts, pixels.size)) * 4  # four channels per pixel
        for value, length in zip(pixels[starts].tolist(), lengths.tolist()):
            word = "11111111" if value else "00000000"
            while length:
                count = min(length, 1 << _FIELDS[-1])
                index = next(i for i, f in enumerate(_FIELDS) if count <= 1 << f)
                bits.append(f"1{index:02b}{count - 1:0{_FIELDS[index]}b}{word}")
                length -= count
    stream = "".join(bits)
    stream += "0" * (-len(stream) % 8)
    return list(int(stream, 2).to_bytes(len(stream) // 8, "big"))


def decode(rle: Sequence[int], height: int, width: int) -> np.ndarray:
    """(H, W) uint8 mask of a brush ``rle`` (alpha of at least 128 counts as the mask).

    Repeat and literal blocks and any word size are read. ValueError when the list is not
    bytes, the stream ends early, or it holds another number of values than ``height * width * 4``."""
    if not all(isinstance(b, int) and not isinstance(b, bool) and 0 <= b < 256 for b in rle):
        raise ValueError("brush rle: expected a list of bytes (integers 0-255)")
    stream = "".join(f"{b:08b}" for b in rle)
    pos = 0

    def read(n: int) -> int:
        nonlocal pos
        if pos + n > len(stream):
            raise ValueError("brush rle: the stream ends early")
        pos += n
        return int(stream[pos - n:pos], 2)

    total, word = read(32), read(5) + 1
    fields = [read(4) + 1 for _ in range(4)]
    if total != height * width * 4:
        raise ValueError(f"brush rle: {total} values, but a {height}x{width} RGBA image has {height * width * 4}")
    values = np.zeros(total, dtype=np.uint32)
    i = 0
    while i < total:
        repeat = read(1)
        end = i + 1 + read(fields[read(2)])
        if end > total:
            raise ValueError("brush rle: a run goes past the image")
        if repeat:
            values[i:end] = read(word)
        else:
            values[i:end] = [read(word) for _ in range(end - i)]
        i = end
    alpha = values.reshape(height, width, 4)[..., 3]
    return (alpha >= (1 << word) // 2).astype(np.uint8)


def from_coco(rle: masks.RLE) -> list[int]:
    """A COCO RLE (``size`` [h, w]) as a brush ``rle``."""
    return encode(masks.decode(rle))


def to_coco(rle: Sequence[int], height: int, width: int) -> masks.RLE:
    """A brush ``rle`` as a COCO RLE of ``height`` x ``width``."""
    return masks.encode(decode(rle, height, width))
