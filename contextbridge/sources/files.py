"""Files: one file, a directory or a glob; read once, or watched for new and changed files.

    >>> source = FileSource("incoming/*.csv", base_dir=Path("/srv/city"), watch=True, interval=2.0,
    ...                     state_file=Path("/srv/city/.contextbridge/sources/incoming.json"))
    >>> async for message in source.messages():   # metadata: file, path, size, modified, received_at
    ...     with message.open() as stream: ...     # streamed from disk, never loaded whole
    ...     await message.ack()                    # remembered in the state file

Watching polls the directory every ``interval`` seconds (portable, and works on network shares
where inotify does not). A file is read when its (size, modification time) differs from what
the state file remembers, once it is *settled*: last modified more than ``settle`` seconds ago,
so that a file still being copied is not read half-written.
Writers that can should write ``name.tmp`` and rename; hidden files and ``*.tmp``/``*.part``
files are never read.

Files are left where they are (no move, no delete): the source needs read access only, and the
state file (JSON, replaced atomically) is what prevents a restart from reading a file again.
It is written when a message is acked, so a file whose records never reached the outbox is read
again after a restart: at-least-once. A changed file is read again whole.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from ..errors import ConfigError
from .base import Message, pause, utc_now
from .settings import Settings

__all__ = ["FileSource"]

log = logging.getLogger(__name__)

Fingerprint = tuple[int, int]  # size, modification time (ns)
_SKIPPED_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload")


class FileSource:
    """The files of a path, a directory or a glob pattern (relative to ``base_dir``)."""

    kind = "file"

    def __init__(
        self,
        pattern: str,
        *,
        base_dir: Path = Path("."),
        watch: bool = False,
        interval: float = 2.0,
        settle: float = 2.0,
        state_file: Path | None = None,
    ) -> None:
        self.pattern = pattern
        self.base_dir = base_dir
        self.watch = watch
        self.interval = interval
        self.settle = settle
        self.state_file = state_file
        self._glob = any(char in pattern for char in "*?[")
        self._done: dict[str, Fingerprint] = self._load_state()
        self._sent: dict[str, Fingerprint] = {}  # yielded in this run, acked or not
        self._seen: dict[str, Fingerprint] = {}  # the last scan: what exists now
        self._closed = asyncio.Event()
        self.read = 0

    def _load_state(self) -> dict[str, Fingerprint]:
        if self.state_file is None or not self.state_file.exists():
            return {}
        try:
            data = json.loads(self.state_file.read_text(encoding="utf-8"))
            return {str(path): (int(size), int(mtime)) for path, (size, mtime) in data["files"].items()}
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ConfigError(
                f"file source state {self.state_file} is unreadable: {error}", key="state"
            ) from error

    def _save_state(self) -> None:
        if self.state_file is None:
            return
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.state_file.with_name(self.state_file.name + ".tmp")
        body = {"pattern": self.pattern, "files": {path: list(fp) for path, fp in sorted(self._done.items())}}
        temporary.write_text(json.dumps(body, indent=1), encoding="utf-8")
        os.replace(temporary, self.state_file)  # atomic: a crash leaves the old state or the new one

    def paths(self) -> list[Path]:
        """The files the pattern names now, sorted (hidden and temporary files left out)."""
        path = self.base_dir / self.pattern
        if self._glob:
            found = [p for p in self.base_dir.glob(self.pattern) if p.is_file()]
        elif path.is_dir():
            found = [p for p in path.iterdir() if p.is_file()]
        else:
            found = [path] if path.is_file() else []
        return sorted(
            p for p in found if not p.name.startswith(".") and not p.name.endswith(_SKIPPED_SUFFIXES)
        )

    def _scan(self) -> list[tuple[Path, Fingerprint, float]]:
        """Files to read now: new or changed since the state, and settled."""
        now = time.time()
        ready = []
        current: dict[str, Fingerprint] = {}
        for path in self.paths():
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue  # gone between listing and stat
            key = str(path.resolve())
            fingerprint = (stat.st_size, stat.st_mtime_ns)
            current[key] = fingerprint
            if self._done.get(key) == fingerprint or self._sent.get(key) == fingerprint:
                continue
            if not self.watch or now - stat.st_mtime >= self.settle:
                ready.append((path, fingerprint, stat.st_mtime))
        self._seen = current
        return ready

    async def messages(self) -> AsyncIterator[Message]:
        while not self._closed.is_set():
            ready = await asyncio.to_thread(self._scan)
            if not ready and not self.watch and self.read == 0 and not self._done:
                raise ConfigError(f"no file matches {self.pattern!r} in {self.base_dir}", key="file")
            for path, fingerprint, mtime in ready:
                if self._closed.is_set():
                    return
                yield self._message(path, fingerprint, mtime)
            if not self.watch:
                return
            await pause(self._closed, self.interval)

    def _message(self, path: Path, fingerprint: Fingerprint, mtime: float) -> Message:
        key = str(path.resolve())
        self._sent[key] = fingerprint
        self.read += 1

        async def ack() -> None:
            self._done[key] = fingerprint
            # Forget files that are gone, so the state does not grow forever.
            for known in [k for k in self._done if k not in self._seen and k != key]:
                del self._done[known]
            await asyncio.to_thread(self._save_state)

        return Message(
            name=path.name,
            metadata={
                "file": path.name,
                "path": str(path),
                "size": fingerprint[0],
                "modified": datetime.fromtimestamp(mtime, UTC)
                .isoformat(timespec="seconds")
                .replace("+00:00", "Z"),
                "received_at": utc_now(),
            },
            path=path,
            _ack=ack,
        )

    async def close(self) -> None:
        self._closed.set()

    @classmethod
    def from_config(
        cls, pattern: str, settings: Settings, *, base_dir: Path, state_dir: Path | None = None
    ) -> FileSource:
        watch = settings.flag("watch", False)
        state = settings.text("state")
        if state is not None:
            state_file: Path | None = base_dir / state
        elif watch:
            digest = hashlib.sha1(f"{base_dir.resolve()}|{pattern}".encode()).hexdigest()[:12]
            state_file = (state_dir or base_dir / ".contextbridge") / "sources" / f"files-{digest}.json"
        else:
            state_file = None
        return cls(
            pattern,
            base_dir=base_dir,
            watch=watch,
            interval=settings.number("interval", 2.0),
            settle=settings.number("settle", 2.0),
            state_file=state_file,
        )
