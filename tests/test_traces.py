"""Every trace reader on small files made here, and format detection."""

from __future__ import annotations

import gzip
import lzma
from pathlib import Path

import numpy as np
import pytest
import zstandard

from predis.services.replay import traces
from predis.services.replay.traces import TraceFormatError, detect_format, read_trace


def test_cache2k_big_endian_int32_compressed(tmp_path: Path) -> None:
    keys = np.array([5, -1, 5, 70000], dtype=">i4")
    path = tmp_path / "web.trace.xz"
    path.write_bytes(lzma.compress(keys.tobytes()))
    trace = read_trace(path)
    assert detect_format(path) == "cache2k"
    assert trace.ids.view(np.int64).tolist() == [5, -1, 5, 70000]
    assert trace.name == "web" and trace.footprint == 3


def test_lirs_text_skips_non_numbers(tmp_path: Path) -> None:
    path = tmp_path / "loop.trace.gz"
    path.write_bytes(gzip.compress(b"1\n2\n*\n1\n3\n"))
    assert detect_format(path) == "lirs"
    assert read_trace(path).ids.tolist() == [1, 2, 1, 3]


def test_arc_expands_block_runs(tmp_path: Path) -> None:
    path = tmp_path / "db.lis.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(b"10 3 0 0\n4 1 0 1\n10 2 0 2\n"))
    assert read_trace(path).ids.tolist() == [10, 11, 12, 4, 10, 11]


def test_oracle_general_records_with_sizes(tmp_path: Path) -> None:
    dtype = np.dtype([("time", "<u4"), ("id", "<u8"), ("size", "<u4"), ("next", "<i8")])
    records = np.array([(1, 42, 512, 3), (2, 7, 100, -1), (3, 42, 512, -1)], dtype=dtype)
    path = tmp_path / "io.oracleGeneral.bin"
    path.write_bytes(records.tobytes())
    trace = read_trace(path)
    assert trace.ids.tolist() == [42, 7, 42]
    assert trace.sizes is not None and trace.sizes.tolist() == [512, 100, 512]


def test_int64_big_endian(tmp_path: Path) -> None:
    path = tmp_path / "keys.i64"
    path.write_bytes(np.array([1 << 40, 3], dtype=">i8").tobytes())
    assert read_trace(path).ids.tolist() == [1 << 40, 3]


def test_libcachesim_csv_with_header(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("time,obj_id,obj_size\n1,10,100\n2,11,200\n3,10,100\n")
    trace = read_trace(path)
    assert detect_format(path) == "csv"
    assert trace.ids.tolist() == [10, 11, 10]
    assert trace.sizes is not None and trace.sizes.tolist() == [100, 200, 100]


def test_twitter_csv_hashes_string_keys(tmp_path: Path) -> None:
    path = tmp_path / "cluster.csv"
    path.write_text("0,user:a,6,100,1,get,0\n1,user:b,6,50,1,get,0\n2,user:a,6,100,2,get,0\n")
    trace = read_trace(path)
    assert detect_format(path) == "twitter"
    assert trace.ids[0] == trace.ids[2] != trace.ids[1]
    assert trace.sizes is not None and trace.sizes.tolist() == [106, 56, 106]


def test_large_files_are_read_in_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(traces, "CHUNK_BYTES", 10)  # records straddle chunk edges
    path = tmp_path / "many.trace"
    keys = np.arange(1000, dtype=">i4")
    path.write_bytes(keys.tobytes())
    assert read_trace(path).ids.tolist() == list(range(1000))
    text = tmp_path / "many_text.trace"
    text.write_bytes(b"".join(b"%d\n" % i for i in range(1000)))
    assert read_trace(text).ids.tolist() == list(range(1000))


def test_unknown_formats_say_which_exist(tmp_path: Path) -> None:
    path = tmp_path / "mystery.dat"
    path.write_bytes(b"\x00\x01")
    with pytest.raises(TraceFormatError, match="cache2k"):
        read_trace(path)
    with pytest.raises(TraceFormatError, match="ends inside a record"):
        read_trace(path, "cache2k")
