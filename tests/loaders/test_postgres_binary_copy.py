"""The binary COPY encoder writes exactly the values it was given."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import psycopg
import pytest

from loaders.sinks.postgres import encode_copy_binary

pytestmark = pytest.mark.postgres


def test_binary_copy_round_trips_extreme_values(pg_dsn: str) -> None:
    frame = pl.DataFrame({
        "ts": [datetime(1999, 12, 31, 23, 59, 59, 999_999), datetime(2000, 1, 1), datetime(2262, 4, 11, 0, 0, 0, 1)],
        "signal_id": [0, -1, 9_223_372_036_854_775_807],
        "measurement_value": [116.129, -0.0001, 1.7976931348623157e308],
    }, schema={"ts": pl.Datetime("us"), "signal_id": pl.Int64, "measurement_value": pl.Float64})
    with psycopg.connect(pg_dsn) as conn, conn.cursor() as cursor:
        cursor.execute("CREATE TABLE t (ts timestamp, signal_id bigint, measurement_value double precision)")
        with cursor.copy("COPY t (ts, signal_id, measurement_value) FROM STDIN (FORMAT binary)") as copy:
            copy.write(encode_copy_binary(frame))
        assert cursor.execute("SELECT * FROM t").fetchall() == list(frame.iter_rows())


def test_binary_copy_refuses_nulls() -> None:
    with pytest.raises(ValueError, match="nulls are not supported"):
        encode_copy_binary(pl.DataFrame({"signal_id": [1, None]}, schema={"signal_id": pl.Int64}))
