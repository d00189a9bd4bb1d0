"""The statuses of an assignment (SPEC §1), apart from the file reader so that read commands
can name them without importing it (and PyYAML)."""

from __future__ import annotations

STATUSES = ("open", "in_progress", "done", "waived", "cancelled")
CLOSED = frozenset({"done", "waived", "cancelled"})
COMPLETED = frozenset({"done", "waived"})  # closed by delivering (or being excused), not by cancelling
