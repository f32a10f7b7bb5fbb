"""Objects written into a pack file a batch at a time, instead of one loose file each.

An import writes tens of objects for each of thousands of runs; as loose objects, that is a
file (and a directory entry, and a rename) per object, most of the import's system time. While a
``PackedWrites`` is open, the objects its repository writes stay in memory, readable as usual;
``flush`` writes them all into one pack (and its index) under ``objects/pack``. Nothing may point
at them from a ref before the flush: the caller creates its refs after.
"""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pygit2

_LARGE = 1 << 31  # offsets from here on go in the index's table of large offsets


def _backend_class() -> type:
    import pygit2

    class _Memory(pygit2.OdbBackend):
        """An object database backend in memory; it refuses writes once closed (its repository
        object is done with: nothing may be written that no flush would keep)."""

        def __init__(self) -> None:
            super().__init__()
            self.objects: dict[pygit2.Oid, tuple[int, bytes]] = {}
            self.open = True

        def read_cb(self, oid: pygit2.Oid) -> tuple[int, bytes]:
            return self.objects[oid]

        def read_prefix_cb(self, oid: pygit2.Oid) -> tuple[int, bytes, pygit2.Oid]:
            kind, data = self.objects[oid]  # a full id: the writer never looks up a short one
            return kind, data, oid

        def read_header_cb(self, oid: pygit2.Oid) -> tuple[int, int]:
            kind, data = self.objects[oid]
            return kind, len(data)

        def exists_cb(self, oid: pygit2.Oid) -> bool:
            return oid in self.objects

        def exists_prefix_cb(self, oid: pygit2.Oid) -> pygit2.Oid:
            if oid in self.objects:
                return oid
            raise KeyError(oid)

        def write_cb(self, oid: pygit2.Oid, data: bytes, kind: int) -> None:
            if not self.open:
                raise OSError("objects written after PackedWrites.close() would be lost")
            self.objects[oid] = (kind, data)

        def refresh_cb(self) -> None:
            pass

        def __iter__(self) -> Iterator[pygit2.Oid]:
            return iter(list(self.objects))

    return _Memory


class PackedWrites:
    """While open, what ``repo`` writes is kept in memory; ``flush`` packs it. Give it a repository
    object of its own and drop that after ``close``: the backend stays attached to it, refusing
    writes."""

    def __init__(self, repo: pygit2.Repository) -> None:
        self.repo = repo
        self._memory = _backend_class()()
        repo.odb.add_backend(self._memory, 1_000)  # before the loose and packed backends

    def __enter__(self) -> PackedWrites:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pending(self) -> int:
        """Objects written since the last flush."""
        return len(self._memory.objects)

    def flush(self) -> None:
        """Write every object kept into one new pack (with its index) and forget them."""
        if self._memory.objects:
            write_pack(Path(self.repo.path) / "objects" / "pack", self._memory.objects)
            self._memory.objects.clear()

    def close(self) -> None:
        """Flush, then refuse writes."""
        self.flush()
        self._memory.open = False


def write_pack(folder: Path, objects: dict[pygit2.Oid, tuple[int, bytes]]) -> str:
    """Write ``objects`` (id -> (type, content); SHA-1 ids) as a pack and its version 2 index in
    ``folder``, each object whole (no deltas: ``git gc`` finds them later), compressed as loose
    objects are; returns the pack's name. The index is written last, so the pack is used only
    once complete."""
    pack_hash = hashlib.sha1()  # noqa: S324 - git's pack checksum
    entries = []
    fd, temporary = tempfile.mkstemp(prefix="tmp_pack_", dir=folder)
    with os.fdopen(fd, "wb") as out:

        def emit(data: bytes) -> None:
            pack_hash.update(data)
            out.write(data)

        emit(b"PACK" + struct.pack(">II", 2, len(objects)))
        offset = 12
        for oid, (kind, content) in objects.items():
            size = len(content)
            header = bytearray()
            byte = (int(kind) << 4) | (size & 0x0F)
            size >>= 4
            while size:
                header.append(byte | 0x80)
                byte, size = size & 0x7F, size >> 7
            header.append(byte)
            packed = bytes(header) + zlib.compress(content, 1)
            entries.append((oid.raw, zlib.crc32(packed), offset))
            emit(packed)
            offset += len(packed)
        checksum = pack_hash.digest()
        out.write(checksum)
    entries.sort()
    fanout = [0] * 256
    for raw, _, _ in entries:
        fanout[raw[0]] += 1
    for i in range(1, 256):
        fanout[i] += fanout[i - 1]
    large = [offset for _, _, offset in entries if offset >= _LARGE]
    position = {offset: i for i, offset in enumerate(large)}
    small = [offset if offset < _LARGE else 0x8000_0000 | position[offset] for _, _, offset in entries]
    index = b"".join([
        b"\377tOc", struct.pack(">I", 2), struct.pack(">256I", *fanout),
        b"".join(raw for raw, _, _ in entries),
        struct.pack(f">{len(entries)}I", *(crc for _, crc, _ in entries)),
        struct.pack(f">{len(entries)}I", *small), struct.pack(f">{len(large)}Q", *large), checksum,
    ])  # fmt: skip
    index += hashlib.sha1(index).digest()  # noqa: S324 - git's index checksum
    name = f"pack-{checksum.hex()}"
    os.chmod(temporary, 0o444)  # as git leaves its packs
    os.replace(temporary, folder / f"{name}.pack")
    fd, temporary = tempfile.mkstemp(prefix="tmp_idx_", dir=folder)
    with os.fdopen(fd, "wb") as out:
        out.write(index)
    os.chmod(temporary, 0o444)
    os.replace(temporary, folder / f"{name}.idx")
    return name
