"""What every reader yields: typed rows, rejected lines with reasons, and the count read."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

REJECT_SCHEMA = {"line_number": pl.Int64, "raw_line": pl.String, "reason": pl.String}

# Ids are BIGINT in every raw table: a larger one is rejected, not overflowed.
LARGEST_ID = 2**63 - 1


@dataclass(frozen=True)
class ParsedBatch:
    """One slice of a source file. `rows_read == rows.height + rejects.height` always."""

    rows: pl.DataFrame
    rejects: pl.DataFrame

    @property
    def rows_read(self) -> int:
        return self.rows.height + self.rejects.height
