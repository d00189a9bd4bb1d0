"""Writing generated files: atomically, and only when their bytes change."""

from __future__ import annotations

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
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def write_files(folder: Path, files: Mapping[str, bytes]) -> WriteReport:
    """Write every file of *files* (relative name → bytes) into *folder*, creating folders as needed."""
    report = WriteReport(total=len(files))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if _replace(path, data):
                report.changed.append(name)
    except OSError as exc:
        raise OutputError(_("cannot write the feeds into {folder}: {reason}").format(
            folder=folder, reason=exc.strerror or exc)) from None
    return report
