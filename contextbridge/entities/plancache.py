"""Compiled plans kept on disk between runs, so that a command does not compile them again.

    key = fingerprint(ontology_files([BUNDLED, vendor_ttl]))  # None: a file cannot be read
    plans = load("constraints", key)                          # None: not cached (or unreadable)
    store("constraints", key, {...})                          # plain JSON data

Compiling the Smart Data Models constraints means parsing the ontology and the SHACL shapes with
rdflib (about a second); the plans it gives are plain data, a few hundred kilobytes of JSON that
load in milliseconds. They live in the user's cache directory (``platformdirs``:
``~/.cache/contextbridge`` on Linux), one file per key. The key is a SHA-256 of everything the
plans depend on: the bytes of the ontology files and of the shapes, the package's version and
the source of the modules that compile them; any change is another key, so a stale file is never
read. ``CONTEXTBRIDGE_CACHE_DIR`` names another directory, or ``off`` for no cache at all.

The cache is an optimisation and never an error: a file that is missing, corrupt, from another
key or unreadable is a miss (the caller compiles), and a directory that cannot be written is
left alone. Files are written whole (a temporary file renamed over the old one), so concurrent
processes read the old file or the new one, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

ENV = "CONTEXTBRIDGE_CACHE_DIR"
PACKAGE = Path(__file__).parent
BUNDLED = PACKAGE.parent / "data" / "ontologies"
SHAPES_PATH = PACKAGE.parent / "data" / "shapes" / "sdm.ttl"
# What the compiled plans depend on besides the ontology files: the shapes and the compiler.
COMPILER = (SHAPES_PATH, PACKAGE / "shapes.py", PACKAGE / "ontology.py", PACKAGE / "constraints.py")
FORMAT = b"contextbridge plans 1"
KEEP = 16  # plan files kept per kind: older ones (other ontologies, other versions) are removed


def ontology_files(paths: Iterable[Path]) -> list[Path]:
    """The Turtle files ``paths`` name: a file itself, a directory its ``*.ttl`` (sorted)."""
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(Path(path).glob("*.ttl")) if Path(path).is_dir() else [Path(path)])
    return files


def fingerprint(contents: Sequence[bytes]) -> str | None:
    """The key of plans compiled from ontology files of these ``contents`` (in load order); None
    if the compiler's own files cannot be read (then nothing is cached)."""
    from .. import __version__

    digest = hashlib.sha256()
    try:
        compiler = [path.read_bytes() for path in COMPILER]
    except OSError:
        return None
    for part in (FORMAT, __version__.encode(), *compiler, *contents):
        digest.update(len(part).to_bytes(8, "big"))  # lengths first: no two sequences hash alike
        digest.update(part)
    return digest.hexdigest()


def files_fingerprint(files: Iterable[Path]) -> str | None:
    """``fingerprint`` of the files' bytes as they are now; None if one cannot be read."""
    try:
        contents = [file.read_bytes() for file in files]
    except OSError:
        return None  # the loader will say what is wrong with the file
    return fingerprint(contents) if contents else None


def cache_dir() -> Path | None:
    """Where plans are cached; None when ``CONTEXTBRIDGE_CACHE_DIR=off``."""
    chosen = os.environ.get(ENV, "").strip()
    if chosen.lower() == "off":
        return None
    if chosen:
        return Path(chosen).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("contextbridge", appauthor=False))


def _path(kind: str, key: str) -> Path | None:
    where = cache_dir()
    return None if where is None else where / f"{kind}-{key[:32]}.json"


def load(kind: str, key: str) -> Any | None:
    """The data stored under ``key``, or None (no cache, no file, another key, not JSON)."""
    path = _path(kind, key)
    if path is None:
        return None
    try:
        document = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or document.get("key") != key:
        return None
    return document.get("data")


def store(kind: str, key: str, data: Any) -> None:
    """Keep ``data`` under ``key``, atomically; nothing happens if the cache cannot be written."""
    path = _path(kind, key)
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{kind}-", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump({"key": key, "data": data}, out, separators=(",", ":"))
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        _prune(path.parent, kind)
    except (OSError, ValueError, TypeError):
        return  # read-only or full disk, a value JSON cannot hold: the next run compiles again


def _prune(where: Path, kind: str) -> None:
    """Remove all but the ``KEEP`` newest plan files of ``kind``, and the temporary files of
    writers that died (an hour old)."""
    found = []
    for path in where.glob(f"{kind}-*.json"):
        try:
            found.append((path.stat().st_mtime, path))
        except OSError:
            continue
    for _, path in sorted(found, reverse=True)[KEEP:]:
        path.unlink(missing_ok=True)
    for path in where.glob(f".{kind}-*.tmp"):
        try:
            if time.time() - path.stat().st_mtime > 3600:
                path.unlink(missing_ok=True)
        except OSError:
            continue
