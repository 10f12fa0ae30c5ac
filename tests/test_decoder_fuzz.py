"""Fuzzing the decoders (hypothesis): trace readers, KeyBlock unpacking, model cards and settings.
Malformed input gets the decoder's one clear error type, never another exception, a hang or
unbounded memory."""

from __future__ import annotations

import bz2
import gzip
import lzma
from pathlib import Path

import numpy as np
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from predis.packing import lengths_of, unpack
from predis.services.predictor.model_files import ModelCard
from predis.services.replay.traces import FORMATS, TraceFormatError, read_trace
from predis.services.runtime.errors import InvalidInput
from predis.services.runtime.settings import SettingsError
from predis.v1 import cache_pb2

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Bytes that look like the formats' own text (digits, separators, signs) as well as noise.
trace_bytes = st.one_of(
    st.binary(max_size=600),
    st.text(alphabet="0123456789 ,-*\n\t", max_size=400).map(str.encode),
    st.lists(st.integers(min_value=-(2**70), max_value=2**70), max_size=40).map(
        lambda xs: b"\n".join(b"%d %d 0 0" % (x, abs(x) % 5) for x in xs)
    ),
)
COMPRESSORS = {
    "": lambda b: b,
    ".gz": gzip.compress,
    ".xz": lzma.compress,
    ".bz2": bz2.compress,
    ".zst": zstandard.ZstdCompressor().compress,
}


@FUZZ
@given(data=trace_bytes, fmt=st.sampled_from(FORMATS), suffix=st.sampled_from(list(COMPRESSORS)), damage=st.booleans())
def test_trace_readers_answer_a_trace_or_a_format_error(
    tmp_path: Path, data: bytes, fmt: str, suffix: str, damage: bool
) -> None:
    blob = COMPRESSORS[suffix](data)
    if damage and len(blob) > 4:
        blob = blob[: len(blob) // 2] + bytes(3) + blob[len(blob) // 2 + 3 :]  # a torn compressed file
    path = tmp_path / f"fuzz.trace{suffix}"
    path.write_bytes(blob)
    try:
        trace = read_trace(path, fmt)
    except TraceFormatError as error:
        assert str(error)
        return
    assert trace.ids.dtype == np.uint64 and len(trace.ids) <= 1 << 20


def test_an_arc_line_cannot_ask_for_unbounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "huge.lis"
    path.write_bytes(b"0 99999999999 0 0\n")
    with pytest.raises(TraceFormatError, match="at most 65,536"):
        read_trace(path)


@FUZZ
@given(data=st.binary(max_size=200), lengths=st.binary(max_size=40))
def test_keyblocks_unpack_exactly_or_raise_value_error(data: bytes, lengths: bytes) -> None:
    block = cache_pb2.KeyBlock(data=data, lengths=lengths)
    try:
        items = unpack(block)
    except ValueError:
        return
    assert b"".join(items) == data and len(items) == len(lengths_of(block))


@FUZZ
@given(
    raw=st.one_of(
        st.binary(max_size=200), st.from_regex(r'\{"features": ?\[.{0,40}\]\}', fullmatch=True).map(str.encode)
    )
)
def test_model_cards_read_or_raise_invalid_input(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "model.json"
    path.write_bytes(raw)
    try:
        card = ModelCard.read(path)
    except InvalidInput as error:
        assert str(path) in str(error)
        return
    assert card.features and all(isinstance(f, str) for f in card.features)


@FUZZ
@given(value=st.text(max_size=20))
def test_settings_parse_or_raise_settings_error(value: str) -> None:
    from predis.services.cache.settings import CacheSettings

    for name in ("PREDIS_CACHE_MEMORY_BYTES", "PREDIS_ORIGIN_TIMEOUT_S", "PREDIS_PREFETCH_PRECISION_TARGET"):
        try:
            CacheSettings.from_env({name: value})
        except SettingsError as error:
            assert name in str(error) or "PREDIS_" in str(error)
