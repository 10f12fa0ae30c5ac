"""Segment files of access events: rotation by size and age, retention, one folder per tenant,
and a writer killed with kill -9 mid-write leaves nothing that breaks a reader."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from predis.services.cache.segments import SegmentWriter, read_segments
from predis.services.runtime.errors import InvalidInput


def _events(n: int, start: int = 0) -> tuple[list[bytes], np.ndarray, np.ndarray, np.ndarray]:
    ids = np.arange(start, start + n)
    return [b"k%d" % i for i in ids.tolist()], ids % 3, ids * 1000, ids % 100


def test_events_come_back_per_tenant_in_order_rotated_by_size(tmp_path: Path) -> None:
    writer = SegmentWriter(tmp_path, max_rows=250)
    written = []
    for chunk in range(4):
        written += writer.append("acme", *_events(100, chunk * 100))
    written += writer.append("beta", *_events(10, 7))
    assert len(written) == 1  # acme reached 250 rows once; the rest is buffered
    written += writer.flush()
    assert {p.parent.name for p in written} == {"acme", "beta"}  # one folder per tenant
    acme = read_segments(tmp_path, "acme")
    assert acme.column("key").to_pylist() == _events(400)[0]
    assert acme.column("time_unix_nano").to_pylist() == (np.arange(400) * 1000).tolist()
    assert read_segments(tmp_path, "beta").num_rows == 10
    assert read_segments(tmp_path, "nobody").num_rows == 0


def test_a_buffer_is_written_when_its_oldest_event_is_old_enough(tmp_path: Path) -> None:
    now = [0.0]
    writer = SegmentWriter(tmp_path, max_rows=10_000, max_age_s=60, clock=lambda: now[0])
    assert writer.append("acme", *_events(5)) == []
    now[0] = 61.0
    assert len(writer.rotate()) == 1 and read_segments(tmp_path, "acme").num_rows == 5


def test_retention_drops_the_oldest_segments_and_keeps_the_newest(tmp_path: Path) -> None:
    writer = SegmentWriter(tmp_path, max_rows=1000, retain_bytes=30_000)
    for chunk in range(10):
        writer.append("acme", *_events(1000, chunk * 1000))
    segments = sorted((tmp_path / "acme").glob("*.arrow"))
    assert sum(p.stat().st_size for p in segments) <= 30_000 and len(segments) < 10
    keys = read_segments(tmp_path, "acme").column("key").to_pylist()
    assert keys[-1] == b"k9999" and keys[0] != b"k0"  # the newest kept, the oldest gone


def test_a_torn_segment_or_a_bad_tenant_is_refused_without_breaking_the_rest(tmp_path: Path) -> None:
    writer = SegmentWriter(tmp_path, max_rows=100)
    writer.append("acme", *_events(100))
    writer.append("acme", *_events(100, 100))
    newest = sorted((tmp_path / "acme").glob("*.arrow"))[-1]
    newest.write_bytes(newest.read_bytes()[:200])  # torn by something other than the writer
    assert read_segments(tmp_path, "acme").num_rows == 100
    with pytest.raises(InvalidInput, match="is not valid"):
        writer.append("../escape", *_events(1))
    with pytest.raises(InvalidInput, match="cannot name a folder"):
        writer.append("..", *_events(1))
    with pytest.raises(ValueError, match="one entry per event"):
        writer.append("acme", [b"a"], np.zeros(2), np.zeros(1), np.zeros(1))


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import numpy as np
    from predis.services.cache.segments import SegmentWriter
    writer = SegmentWriter(Path(sys.argv[1]), max_rows=200_000)
    keys = [b"key-%d" % i for i in range(200_000)]
    kinds, times, sizes = np.zeros(200_000), np.arange(200_000), np.ones(200_000)
    print("writing", flush=True)
    while True:
        writer.append("acme", keys, kinds, times, sizes)
    """
)


def test_a_writer_killed_mid_write_leaves_only_whole_segments(tmp_path: Path) -> None:
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "writing"
    deadline = time.monotonic() + 60
    while len(list((tmp_path / "acme").glob("*.arrow"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    while not list((tmp_path / "acme").glob(".*.tmp")) and time.monotonic() < deadline:
        time.sleep(0.001)  # a segment is being written now
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    rows = read_segments(tmp_path, "acme").num_rows  # never raises on what the kill left
    assert rows >= 3 * 200_000 and rows % 200_000 == 0  # whole segments only
    SegmentWriter(tmp_path)  # the next writer clears what the killed one left half-written
    assert not list((tmp_path / "acme").glob(".*.tmp"))
