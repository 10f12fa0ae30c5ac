"""Packing many byte strings into one ``KeyBlock`` (a blob plus little-endian uint32 lengths).

Both directions avoid a protobuf object per item; unpacking slices one bytes object using the
lengths read by NumPy in one step.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from predis.v1 import cache_pb2

LENGTH_DTYPE = np.dtype("<u4")


def pack(items: Sequence[bytes]) -> cache_pb2.KeyBlock:
    lengths = np.fromiter((len(item) for item in items), dtype=LENGTH_DTYPE, count=len(items))
    return cache_pb2.KeyBlock(data=b"".join(items), lengths=lengths.tobytes())


def lengths_of(block: cache_pb2.KeyBlock) -> np.ndarray:
    """The item lengths; raises ValueError when the block is malformed."""
    if len(block.lengths) % LENGTH_DTYPE.itemsize:
        raise ValueError("KeyBlock.lengths must hold 4 bytes per item")
    lengths = np.frombuffer(block.lengths, dtype=LENGTH_DTYPE)
    if int(lengths.sum(dtype=np.uint64)) != len(block.data):
        raise ValueError(
            f"KeyBlock lengths add up to {int(lengths.sum(dtype=np.uint64))} bytes but data holds {len(block.data)}"
        )
    return lengths


def unpack(block: cache_pb2.KeyBlock) -> list[bytes]:
    lengths = lengths_of(block)
    ends = np.cumsum(lengths, dtype=np.int64).tolist()
    data = block.data
    starts = [0, *ends[:-1]]
    return [data[s:e] for s, e in zip(starts, ends, strict=True)]
