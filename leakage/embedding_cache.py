"""Embeddings kept on disk, one row per key, for one model: encoded once, read back on every rerun.

Rows are stored as float16 and always handed out from that storage, so a run that encodes and a
run that reads back get the same numbers. Writers append under a file lock and replace the files
atomically, so several processes (the app, the CLI) can share one cache.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Callable, Sequence

import numpy as np

from leakage.locks import file_lock


class EmbeddingCache:
    """<keys file> (row order, JSON list of strings) + embeddings.npy (float16 rows) in one directory."""

    def __init__(self, directory: Path, keys_file: str = "keys.json"):
        self.directory = directory
        self._keys = directory / keys_file
        self._matrix = directory / "embeddings.npy"

    def _read(self) -> tuple[list[str], np.ndarray | None]:
        if not (self._keys.is_file() and self._matrix.is_file()):
            return [], None
        keys = json.loads(self._keys.read_text())
        matrix = np.load(self._matrix)
        if len(keys) != len(matrix):  # a torn write from a killed process: start over
            return [], None
        return keys, matrix

    def get(self, keys: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray | None]:
        """(found, rows): which keys are cached (None never is), and their rows in order, as float32."""
        known, matrix = self._read()
        index = {key: row for row, key in enumerate(known)}
        found = np.array([key is not None and key in index for key in keys], dtype=bool)
        if matrix is None or not found.any():
            return found, None
        rows = np.fromiter((index[key] for key, hit in zip(keys, found) if hit), dtype=np.int64, count=int(found.sum()))
        return found, matrix[rows].astype(np.float32)

    def add(self, keys: Sequence[str], rows: np.ndarray) -> np.ndarray:
        """Store rows under keys (keys already cached keep their rows); returns the rows as stored, float32."""
        stored = np.asarray(rows).astype(np.float16)
        if not len(keys):
            return stored.astype(np.float32)
        with file_lock(self.directory / ".lock"):
            known, matrix = self._read()  # another process may have appended meanwhile
            present, new = set(known), []
            for row, key in enumerate(keys):
                if key not in present:
                    present.add(key)
                    new.append(row)
            if new:
                known = known + [keys[row] for row in new]
                matrix = stored[new] if matrix is None else np.concatenate([matrix, stored[new]])
                self._write(known, matrix)
        return stored.astype(np.float32)

    def lookup(self, keys: Sequence[str], encode: Callable[[Sequence[str]], np.ndarray]) -> tuple[np.ndarray, int]:
        """Rows for `keys` in order, encoding only the missing ones; returns (matrix, n_encoded)."""
        found, cached = self.get(keys)
        missing = list(dict.fromkeys(key for key, hit in zip(keys, found) if not hit))
        if not missing:
            return cached, 0
        fresh = dict(zip(missing, self.add(missing, encode(missing))))
        cached_rows = iter(cached if cached is not None else ())
        return np.stack([next(cached_rows) if hit else fresh[key] for key, hit in zip(keys, found)]), len(missing)

    def _write(self, keys: list[str], matrix: np.ndarray) -> None:
        replace_file(self._matrix, lambda f: np.save(f, matrix))
        replace_file(self._keys, lambda f: f.write(json.dumps(keys).encode()))


def replace_file(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Write a file whole or not at all: into a temporary file beside it, then renamed over it, so a
    reader in another process never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as handle:
        write(handle)
    os.replace(temporary, path)


def file_key(source: object) -> str | None:
    """An image file's cache key: path, size and modification time (None for uploads and unreadable paths)."""
    if not isinstance(source, (str, os.PathLike)):
        return None  # uploaded photos stay in memory: nothing about them is written to disk
    try:
        status = os.stat(source)
    except OSError:
        return None
    return f"{os.path.realpath(source)}|{status.st_size}|{status.st_mtime_ns}"
