"""The ``--json-events [PATH]`` option: a run's events as JSON lines on stdout (the human
display then goes to stderr) or appended to PATH."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from harness.cli.live import LiveDisplay
from harness.runs.event_stream import JsonEvents, Listener, tee

STDOUT = "-"
F = TypeVar("F", bound=Callable[..., Any])


def json_events_option(f: F) -> F:
    return click.option(
        "--json-events", "json_events", is_flag=False, flag_value=STDOUT, default=None,
        metavar="[PATH]", help="Stream every run event as one JSON object a line "
        "(docs/events.md): to stdout, or to PATH when given (appended).")(f)


@contextmanager
def run_output(json_events: str | None, *, verbose: bool
               ) -> Iterator[tuple[Console, LiveDisplay, Listener]]:
    """The console for people (stderr when the events take stdout), the live display on it,
    and the listener to give the run: the display, and the JSON stream when asked."""
    console = Console(highlight=False, stderr=json_events == STDOUT)
    display = LiveDisplay(console, verbose=verbose)
    try:
        if json_events is None:
            yield console, display, display
        elif json_events == STDOUT:
            yield console, display, tee(display, JsonEvents(sys.stdout))
        else:
            with Path(json_events).open("a", encoding="utf-8") as out:
                yield console, display, tee(display, JsonEvents(out))
    finally:
        display.close()


@contextmanager
def batch_events(json_events: str | None) -> Iterator[tuple[Console, JsonEvents | None]]:
    """For a batch: the console for people and the stream every run's events go to."""
    console = Console(highlight=False, stderr=json_events == STDOUT)
    if json_events is None:
        yield console, None
    elif json_events == STDOUT:
        yield console, JsonEvents(sys.stdout)
    else:
        with Path(json_events).open("a", encoding="utf-8") as out:
            yield console, JsonEvents(out)
