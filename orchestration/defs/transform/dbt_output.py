"""dbt's output, relayed line by line to the `dbt` logger with what each line is about.

dagster-dbt reads dbt's structured (JSON) events and writes each one's message to
stdout, colour codes and all. The dbt step reads the same events through
`relayed_events` instead: each line goes to the `dbt` logger (kernel.logging_config), with
dbt's event name, and for a node's line its position (`dbt_index` of `dbt_total`), its
node and status. The handlers decide what a line becomes: plain text or JSON in a pipe
or a file, a progress bar and the summary on a terminal (warehouse/console.py), the
run's stderr in a run the UI launched.
"""

from __future__ import annotations

import io
import logging
import re
import sys
from collections.abc import Iterator
from typing import Any

from dagster_dbt import DbtCliInvocation

from kernel.logging_config import DBT_LOGGER

log = logging.getLogger(DBT_LOGGER)

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}
# dbt runs with --no-use-colors; a line that still carries codes (a raw line of a crash) loses them.
ANSI_CODES = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def log_dbt_event(raw_event: dict[str, Any]) -> None:
    """One of dbt's JSON events as a line of the `dbt` logger; dbt's blank lines are left out."""
    info, data = raw_event["info"], raw_event.get("data", {})
    message = ANSI_CODES.sub("", info.get("msg") or "")
    if not message.strip():
        return
    extra: dict[str, Any] = {"event": info.get("name")}
    node = data.get("node_info") or {}
    if node and "index" in data:
        extra.update(dbt_index=data["index"], dbt_total=data.get("total") or data.get("num_models"),
                     node=node.get("unique_id"), status=node.get("node_status"),
                     dbt_resource=node.get("resource_type"))
    log.log(LEVELS.get(info.get("level", "info"), logging.INFO), "%s", message, extra=extra)


def log_raw_line(line: str) -> None:
    """A line dbt wrote that is not one of its events (a crash's traceback, say)."""
    line = ANSI_CODES.sub("", line).rstrip()
    if line.strip():
        log.warning("%s", line)


class _Stdout(io.TextIOBase):
    """Stands in for sys.stdout while dagster-dbt reads dbt: it collects what dagster-dbt
    writes there, one entry per line."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._partial += text
        *complete, self._partial = self._partial.split("\n")
        self.lines.extend(complete)
        return len(text)

    def take(self) -> list[str]:
        lines, self.lines = self.lines, []
        return lines

    def rest(self) -> list[str]:
        lines = self.take() + ([self._partial] if self._partial else [])
        self._partial = ""
        return lines


def relayed_events(invocation: DbtCliInvocation) -> Iterator:
    """The Dagster events of a dbt command, as `invocation.stream()` yields them, each of
    dbt's lines logged to the `dbt` logger instead of written to stdout.

    dagster-dbt writes every event's message to stdout right before it hands the event
    over, and a line it cannot parse without handing anything over: so the lines
    collected before an event's own are dbt's unparsed output, relayed as they are.
    stdout is taken over only while dagster-dbt reads the next event.
    """
    collected = _Stdout()
    events = invocation.stream_raw_events()
    while True:
        saved, sys.stdout = sys.stdout, collected
        try:
            event = next(events, None)
        finally:
            sys.stdout = saved
        if event is None:
            break
        lines = collected.take()
        own = str(event).count("\n") + 1
        for line in lines[:max(len(lines) - own, 0)]:
            log_raw_line(line)
        log_dbt_event(event.raw_event)
        yield from event.to_default_asset_events(
            manifest=invocation.manifest,
            dagster_dbt_translator=invocation.dagster_dbt_translator,
            context=invocation.context,
            target_path=invocation.target_path,
            project=invocation.project,
        )
    for line in collected.rest():
        log_raw_line(line)
