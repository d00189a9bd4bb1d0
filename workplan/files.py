"""Writing generated files: atomically, and only when their bytes change."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import OutputError
from .i18n import _


@dataclass
class WriteReport:
    changed: list[str] = field(default_factory=list)
    total: int = 0


def atomic_write(path: Path, data: bytes) -> bool:
    """Replace *path* with *data* through a temporary file in the same folder, so a reader sees
    the old file or the new one, never half of one. Returns False (and touches nothing) when the
    file already holds exactly *data*: its modification time keeps meaning "changed".
    Raises OutputError naming the file when it cannot be written."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return _replace(path, data)
    except OSError as exc:
        raise OutputError(_("cannot write {file}: {reason}").format(file=path, reason=exc.strerror or exc)) from None


def _replace(path: Path, data: bytes) -> bool:
    if _unchanged(path, data):
        return False
    tmp = _stage(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        _discard(tmp)
        raise
    return True


def _unchanged(path: Path, data: bytes) -> bool:
    try:
        return path.read_bytes() == data
    except FileNotFoundError:
        return False


def _stage(path: Path, data: bytes) -> Path:
    """Write *data* in full to a new temporary file beside *path* and return its name; on any
    failure (a full disk shows up at write, flush or fsync) nothing is left behind."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
    except BaseException:
        _discard(Path(tmp))
        raise
    return Path(tmp)


def _discard(tmp: Path) -> None:
    with contextlib.suppress(OSError):
        tmp.unlink(missing_ok=True)


def write_files(folder: Path, files: Mapping[str, bytes], what: str = "feeds") -> WriteReport:
    """Write every file of *files* (relative name → bytes) into *folder*, creating folders as needed.

    Two phases, so that a full disk or a read-only folder leaves the previous set whole: every
    changed file is first written in full to a temporary file beside it, and only when all of
    them are on disk are they renamed into place (a rename needs no space). Whatever fails, no
    temporary file is left behind."""
    report = WriteReport(total=len(files))
    staged: list[tuple[str, Path, Path]] = []
    try:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for name, data in files.items():
                path = folder / name
                if _unchanged(path, data):
                    continue
                path.parent.mkdir(parents=True, exist_ok=True)
                staged.append((name, _stage(path, data), path))
            for name, tmp, path in staged:
                os.replace(tmp, path)
                report.changed.append(name)
        finally:
            for _name, tmp, _path in staged:
                _discard(tmp)
    except OSError as exc:
        reason = exc.strerror or exc
        if what == "digests":
            raise OutputError(_("cannot write the digests into {folder}: {reason}; the files already there were "
                                "left as they were").format(folder=folder, reason=reason)) from None
        raise OutputError(_("cannot write the feeds into {folder}: {reason}; the files already there were left as "
                            "they were").format(folder=folder, reason=reason)) from None
    return report
