"""Per-track state kept as parallel arrays, one row per track id.

Every stateful tracking stage needs the same bookkeeping: find the row of
each face's track, add rows for new tracks, and forget a track once it has
been absent for more than `patience_frames` frames in a row. Keeping the
state as arrays (not a dict of objects) lets the per-frame work be array
operations over all tracks at once.
"""

from __future__ import annotations

import numpy as np

from emocap.checks import check_int


class TrackTable:
    """Rows of named state arrays keyed by track id, with expiry of absent tracks.

    `columns` holds one array per kind of state, all with one row per entry of
    `ids`; the columns are created by the first `append`.
    """

    def __init__(self, patience_frames: int) -> None:
        self.patience_frames = check_int("TrackTable", "patience_frames", patience_frames, 0)
        self.reset()

    def reset(self) -> None:
        self.ids = np.zeros(0, np.int64)
        self.missed = np.zeros(0, np.int64)
        self.columns: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def lookup(self, ids: np.ndarray) -> np.ndarray:
        """The row of each id, -1 where the id has no row."""
        ids = np.asarray(ids, np.int64)
        if not len(self.ids):
            return np.full(len(ids), -1, np.int64)
        same = ids[:, None] == self.ids[None, :]
        return np.where(same.any(axis=1), same.argmax(axis=1), -1)

    def append(self, ids: np.ndarray, **columns: np.ndarray) -> np.ndarray:
        """Add one row per id with the given initial state; returns their row indices."""
        ids = np.asarray(ids, np.int64)
        if self.columns and set(columns) != set(self.columns):
            raise ValueError(f"TrackTable.append needs columns {sorted(self.columns)}, got {sorted(columns)}")
        first = len(self.ids)
        self.ids = np.concatenate([self.ids, ids])
        self.missed = np.concatenate([self.missed, np.zeros(len(ids), np.int64)])
        for name, values in columns.items():
            values = np.asarray(values)
            self.columns[name] = np.concatenate([self.columns[name], values]) if name in self.columns else values.copy()
        return np.arange(first, len(self.ids))

    def rows_for(self, ids: np.ndarray, initial_state) -> np.ndarray:
        """Rows of `ids`, adding rows for unknown ids with `initial_state(mask of the unknown ones)`."""
        rows = self.lookup(ids)
        unknown = rows < 0
        if unknown.any():
            rows[unknown] = self.append(np.asarray(ids)[unknown], **initial_state(unknown))
        return rows

    def end_frame(self, seen_rows: np.ndarray) -> None:
        """Count a frame: reset the absence count of `seen_rows`, age the others, drop expired rows."""
        seen = np.zeros(len(self.ids), bool)
        seen[np.asarray(seen_rows, np.int64)] = True
        self.missed = np.where(seen, 0, self.missed + 1)
        self.keep(self.missed <= self.patience_frames)

    def keep(self, rows: np.ndarray) -> None:
        """Keep the rows where the boolean mask `rows` is True, drop the others."""
        if not rows.all():
            self.ids, self.missed = self.ids[rows], self.missed[rows]
            self.columns = {name: values[rows] for name, values in self.columns.items()}
