"""Unit tests of the CuPy storage backend. Without CuPy or a CUDA device only the import test runs;
the rest skip. The last test drives CupyStorage and NumpyStorage through the same random calls and
expects the same answers, slot numbers included (both allocate in the same order)."""

from __future__ import annotations

import numpy as np
import pytest

from predis.services.cache.engine import cupy_storage
from predis.services.cache.engine.numpy_storage import NumpyStorage
from predis.services.cache.engine.storage import KeyBatch, blocks_needed

needs_gpu = pytest.mark.skipif(not cupy_storage.cuda_available(), reason="needs CuPy and a CUDA device")


def test_the_module_imports_and_answers_without_a_device() -> None:
    assert isinstance(cupy_storage.cuda_available(), bool)


def _pair(slots: int = 8, blocks: int = 16, block_bytes: int = 16) -> tuple[cupy_storage.CupyStorage, NumpyStorage]:
    return (
        cupy_storage.CupyStorage(slots=slots, blocks=blocks, block_bytes=block_bytes),
        NumpyStorage(slots=slots, blocks=blocks, block_bytes=block_bytes),
    )


@pytest.mark.gpu
@needs_gpu
class TestOnDevice:
    def test_hashes_match_the_cpu_backend(self) -> None:
        gpu, cpu = _pair()
        keys = KeyBatch.of([b"a", b"bb", bytes(range(200)), b"\x00"])
        assert gpu.hashes(3, keys).tolist() == cpu.hashes(3, keys).tolist()
        assert gpu.hashes(3, keys).dtype == np.uint64

    def test_round_trip_across_block_boundaries(self) -> None:
        st = cupy_storage.CupyStorage(slots=32, blocks=512, block_bytes=16)
        keys = [b"k", b"x" * 15, b"y" * 16, b"z" * 17, b"long" * 40, b"e"]
        values = [b"v", b"a" * 16, b"b" * 1, b"c" * 33, bytes(range(256)) * 3, b""]
        batch = KeyBatch.of(keys)
        slots = st.insert(1, batch, st.hashes(1, batch), KeyBatch.of(values))
        assert st.find(1, batch, st.hashes(1, batch)).tolist() == slots.tolist()
        data, lengths = st.read(np.array([slots[3], -1, *slots], dtype=np.int32))
        assert lengths.tolist() == [33, 0, *map(len, values)]
        assert data == values[3] + b"".join(values)
        assert [st.key_of(int(s)) for s in slots] == keys
        assert st.value_length(slots).tolist() == [len(v) for v in values]
        assert st.blocks_of(slots).tolist() == [
            int(blocks_needed(16, len(k), len(v))) for k, v in zip(keys, values, strict=True)
        ]
        data, lengths = st.read(np.array([], dtype=np.int32))
        assert data == b"" and lengths.dtype == np.uint32 and len(lengths) == 0
        assert st.find(1, KeyBatch.of([]), np.zeros(0, dtype=np.uint64)).tolist() == []

    def test_equal_hashes_never_return_another_keys_slot(self) -> None:
        st = cupy_storage.CupyStorage(slots=64, blocks=1024, block_bytes=16)
        prefix = b"p" * 40  # keys differ only after the second block
        keys = KeyBatch.of([prefix + bytes([i]) for i in range(40)])
        same = np.full(len(keys), 7, dtype=np.uint64)
        slots = st.insert(0, keys, same, KeyBatch.of([b"%d" % i for i in range(40)]))
        assert len(set(slots.tolist())) == 40
        assert st.find(0, keys, same).tolist() == slots.tolist()
        assert st.find(1, keys, same).tolist() == [-1] * 40  # another tenant
        absent = KeyBatch.of([prefix, prefix + b"\xff", prefix + b"\x00\x00"])
        assert st.find(0, absent, np.full(3, 7, dtype=np.uint64)).tolist() == [-1, -1, -1]
        st.erase(slots[::2])
        expected = [-1 if i % 2 == 0 else int(s) for i, s in enumerate(slots)]
        assert st.find(0, keys, same).tolist() == expected

    def test_erase_ignores_missing_and_repeated_slots_and_tombstones_get_cleared(self) -> None:
        st = cupy_storage.CupyStorage(slots=16, blocks=64, block_bytes=16)
        for round_ in range(50):  # many erase rounds: tombstones pass a quarter of the cells often
            keys = KeyBatch.of([b"r%d-%d" % (round_, i) for i in range(10)])
            hashes = st.hashes(0, keys)
            slots = st.insert(0, keys, hashes, KeyBatch.of([b"v%d" % i for i in range(10)]))
            assert st.find(0, keys, hashes).tolist() == slots.tolist()
            st.erase(np.array([-1, slots[0], slots[0], *slots[1:]], dtype=np.int32))
            st.erase(slots)  # already free
            assert st.find(0, keys, hashes).tolist() == [-1] * 10
            assert st.free_slot_count == 16 and st.free_block_count == 64

    def test_grow_keeps_entries_and_accounts_honestly(self) -> None:
        st = cupy_storage.CupyStorage(slots=4, blocks=8, block_bytes=16)
        keys = KeyBatch.of([b"a", b"b", b"c"])
        slots = st.insert(2, keys, st.hashes(2, keys), KeyBatch.of([b"1" * 20, b"2", b"3" * 40]))
        st.grow(100, 300)
        assert (st.slot_capacity, st.block_capacity) == (100, 300)
        assert st.find(2, keys, st.hashes(2, keys)).tolist() == slots.tolist()
        assert st.read(slots)[0] == b"1" * 20 + b"2" + b"3" * 40
        assert st.allocated_bytes == 100 * st.bytes_per_slot() + 300 * st.bytes_per_block()
        assert st.slots_of_tenant(2).tolist() == sorted(slots.tolist())


def _hashes_for(mode: str, st: NumpyStorage, tenant: int, keys: KeyBatch) -> np.ndarray:
    real = st.hashes(tenant, keys)
    if mode == "real":
        return real
    if mode == "few":
        return real % np.uint64(3)
    return np.full(len(keys), 42, dtype=np.uint64)


def _random_key(rng: np.random.Generator, bs: int) -> bytes:
    # Long shared prefixes make full-key comparisons walk several blocks.
    prefix = b"shared-prefix-" * int(rng.integers(0, 3))
    return prefix + rng.bytes(int(rng.integers(1, 3 * bs)))


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("block_bytes", [8, 64])
@pytest.mark.parametrize("mode", ["real", "few", "same"])
def test_matches_numpy_storage_on_random_operations(block_bytes: int, mode: str) -> None:
    rng = np.random.default_rng(block_bytes * 7 + len(mode))
    gpu, cpu = _pair(slots=4, blocks=8, block_bytes=block_bytes)
    keys = [_random_key(rng, block_bytes) for _ in range(120)]
    keys = list(dict.fromkeys(keys))
    live: dict[tuple[int, bytes], int] = {}

    def make_room(slots: int, blocks: int) -> None:
        if cpu.free_slot_count < slots or cpu.free_block_count < blocks:
            new = (cpu.slot_capacity + slots + int(rng.integers(0, 4)), cpu.block_capacity + blocks + 3)
            cpu.grow(*new)
            gpu.grow(*new)

    for _step in range(400):
        op = rng.choice(["insert", "find", "read", "replace", "erase", "grow"], p=[0.3, 0.2, 0.15, 0.15, 0.15, 0.05])
        tenant = int(rng.integers(0, 3))
        if op == "insert":
            fresh = [k for k in keys if (tenant, k) not in live]
            chosen = [fresh[i] for i in rng.permutation(len(fresh))[: int(rng.integers(1, 12))]]
            if not chosen:
                continue
            values = [rng.bytes(int(rng.choice([0, 1, block_bytes, 3 * block_bytes + 1, 500]))) for _ in chosen]
            batch, vbatch = KeyBatch.of(chosen), KeyBatch.of(values)
            make_room(len(chosen), int(np.sum(blocks_needed(block_bytes, batch.lengths, vbatch.lengths))))
            hashes = _hashes_for(mode, cpu, tenant, batch)
            got, want = gpu.insert(tenant, batch, hashes, vbatch), cpu.insert(tenant, batch, hashes, vbatch)
            assert got.tolist() == want.tolist()
            live.update({(tenant, k): int(s) for k, s in zip(chosen, want, strict=True)})
        elif op == "find":
            asked = [keys[i] for i in rng.integers(0, len(keys), int(rng.integers(1, 30)))]
            batch = KeyBatch.of(asked)
            hashes = _hashes_for(mode, cpu, tenant, batch)
            got = gpu.find(tenant, batch, hashes).tolist()
            assert got == cpu.find(tenant, batch, hashes).tolist()
            assert got == [live.get((tenant, k), -1) for k in asked]
        elif op == "read" and live:
            slots = np.array(list(live.values()) + [-1], dtype=np.int32)[rng.permutation(len(live) + 1)]
            got_data, got_lengths = gpu.read(slots)
            want_data, want_lengths = cpu.read(slots)
            assert got_data == want_data
            assert got_lengths.dtype == np.uint32 and got_lengths.tolist() == want_lengths.tolist()
        elif op == "replace" and live:
            slot = list(live.values())[int(rng.integers(0, len(live)))]
            value = rng.bytes(int(rng.choice([0, 1, block_bytes - 1, 2 * block_bytes, 700])))
            make_room(0, int(blocks_needed(block_bytes, len(cpu.key_of(slot)), len(value))))
            gpu.replace_value(slot, value)
            cpu.replace_value(slot, value)
        elif op == "erase" and live:
            items = list(live.items())
            doomed = [items[i] for i in rng.permutation(len(items))[: int(rng.integers(1, len(items) + 1))]]
            picked = [s for _, s in doomed]
            slots = np.array(picked + picked[:2] + [-1], dtype=np.int32)  # repeats and a missing one
            gpu.erase(slots)
            cpu.erase(slots)
            for item, _ in doomed:
                del live[item]
            gpu.erase(slots)  # all already free now
            cpu.erase(slots)
        elif op == "grow":
            new = (cpu.slot_capacity + int(rng.integers(0, 5)), cpu.block_capacity + int(rng.integers(0, 9)))
            gpu.grow(*new)
            cpu.grow(*new)
        assert (gpu.slot_capacity, gpu.block_capacity) == (cpu.slot_capacity, cpu.block_capacity)
        assert (gpu.free_slot_count, gpu.free_block_count) == (cpu.free_slot_count, cpu.free_block_count)
        for tenant_ in range(3):
            assert gpu.slots_of_tenant(tenant_).tolist() == cpu.slots_of_tenant(tenant_).tolist()

    slots = np.array(sorted(live.values()), dtype=np.int32)
    assert gpu.value_length(slots).tolist() == cpu.value_length(slots).tolist()
    assert gpu.blocks_of(slots).tolist() == cpu.blocks_of(slots).tolist()
    assert gpu.hash_of(slots).tolist() == cpu.hash_of(slots).tolist()
    assert [gpu.key_of(int(s)) for s in slots] == [cpu.key_of(int(s)) for s in slots]
    assert gpu.read(slots)[0] == cpu.read(slots)[0]
