"""What a run shows as it goes: each stage attempt, its tests and the run's token and cost
totals — and, on a terminal only, live lines for what takes long: the attempt running (the run's
tokens and cost growing with every call), a dependency build (its steps and bytes of output) and
a test run, each with its elapsed time. Piped output gets the plain lines only."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

_OK = {"passed", "accepted", "approved"}
_WIDTH = 70  # characters of a build's last output line shown


class LiveDisplay:
    """A ``RunRecorder`` listener. Event data may hold the repository's or the model's text:
    it is printed escaped, never read as rich markup."""

    def __init__(self, console: Console, *, verbose: bool = False) -> None:
        self.console = console
        self.verbose = verbose
        self.tokens = 0
        self.cost = 0.0
        self._live: Progress | None = None
        self._attempt: TaskID | None = None
        self._work: TaskID | None = None
        self._label = ""
        self._build: dict[str, Any] | None = None  # steps, bytes, started

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
            self._attempt = self._work = None

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        if kind != "sandbox" and self._build is not None:
            self._end_build()
        handler = getattr(self, f"_on_{kind}", None)
        if handler is not None:
            handler(data)

    # -- the live lines (a terminal only) ----------------------------------------------------

    def _progress(self) -> Progress | None:
        if not self.console.is_terminal:
            return None
        if self._live is None:
            self._live = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                                  TimeElapsedColumn(), console=self.console, transient=True)
            self._live.start()
        return self._live

    def _show_attempt(self) -> None:
        live = self._progress()
        if live is None:
            return
        text = f"{escape(self._label)} · run so far {self.tokens:,} tokens ${self.cost:.4f}"
        if self._attempt is None:
            self._attempt = live.add_task(text)
        else:
            live.update(self._attempt, description=text)

    def _end_attempt(self) -> None:
        if self._live is not None and self._attempt is not None:
            self._live.remove_task(self._attempt)
        self._attempt = None

    def _show_work(self, text: str) -> None:
        live = self._progress()
        if live is None:
            return
        if self._work is None:
            self._work = live.add_task(text)
        else:
            live.update(self._work, description=text)

    def _end_work(self) -> None:
        if self._live is not None and self._work is not None:
            self._live.remove_task(self._work)
        self._work = None

    def _on_sandbox(self, d: dict[str, Any]) -> None:
        line = str(d.get("line", ""))
        if self._build is None:
            self._build = {"steps": 0, "bytes": 0, "started": time.monotonic()}
        self._build["steps"] += 1
        self._build["bytes"] += len(line.encode()) + 1
        last = line.strip()[:_WIDTH]
        self._show_work(f"sandbox: {self._build['steps']} steps, "
                        f"{_size(self._build['bytes'])} of output · {escape(last)}")

    def _end_build(self) -> None:
        assert self._build is not None
        build, self._build = self._build, None
        self._end_work()
        if self.console.is_terminal:
            self.console.print(f"    sandbox ready: {build['steps']} steps, "
                               f"{_size(build['bytes'])} of output in "
                               f"{time.monotonic() - build['started']:.1f}s")

    def _on_tests_start(self, d: dict[str, Any]) -> None:
        self._show_work(f"tests ({escape(str(d.get('scope')))}) for "
                        f"{escape(str(d.get('label')))}")

    # -- the printed lines -------------------------------------------------------------------

    def _on_meter(self, d: dict[str, Any]) -> None:
        self.tokens, self.cost = int(d["tokens"]), float(d["cost_usd"])
        if self._attempt is not None:
            self._show_attempt()

    def _on_attempt_start(self, d: dict[str, Any]) -> None:
        self.console.print(f"[bold]▶ {escape(str(d['label']))}[/]  tier "
                           f"[cyan]{escape(str(d['tier']))}[/]  "
                           f"{escape(str(d['model']))} via {escape(str(d['vendor']))}")
        self._label = str(d["label"])
        self._show_attempt()

    def _on_tool(self, d: dict[str, Any]) -> None:
        if self.verbose:
            self.console.print(f"    · {d['call']}", markup=False)

    def _on_baseline(self, d: dict[str, Any]) -> None:
        self._end_work()
        failing = d.get("failing") or []
        where = "cached" if d.get("cached") else "measured"
        self.console.print(f"    baseline ({where}): {len(failing)} test(s) fail at the base "
                           f"commit" + (f" — {escape(', '.join(failing))}" if failing else ""))
        if d.get("warning"):
            self.console.print(f"    [yellow]{escape(d['warning'])}[/]")

    def _on_target(self, d: dict[str, Any]) -> None:
        tests = d.get("tests") or []
        named = escape(", ".join(tests)) if tests else "none"
        self.console.print(f"    target tests: {named} — {escape(str(d.get('why', '')))}")

    def _on_tests(self, d: dict[str, Any]) -> None:
        self._end_work()
        verdict = "[green]passed[/]" if d["passed"] else "[red]failed[/]"
        failing = f" — failing: {escape(', '.join(d['failing']))}" if d["failing"] else ""
        seconds = f" in {float(d['seconds']):.1f}s" if d.get("seconds") is not None else ""
        self.console.print(f"    tests ({d['scope']}): {verdict}{seconds}{failing}")

    def _on_attempt_end(self, d: dict[str, Any]) -> None:
        self._end_attempt()
        self._end_work()
        mark = "[green]✓[/]" if d["outcome"] in _OK else "[yellow]✗[/]"
        self.console.print(f"    {mark} {escape(str(d['outcome']))}  {d['tokens']:,} tokens  "
                           f"${d['cost_usd']:.4f}   run so far: {self.tokens:,} tokens "
                           f"${self.cost:.4f}")

    def _on_routed(self, d: dict[str, Any]) -> None:
        self.console.print(f"[magenta]↪ debugger: {escape(str(d['failing']))} failed; the fix "
                           f"goes to {escape(str(d['owner']))}[/] — {escape(d['root_cause'])}")

    def _on_decomposition(self, d: dict[str, Any]) -> None:
        self.console.print(f"    decomposition: {d['sub_tickets']} sub-tickets, chain depth "
                           f"{d['chain_depth']}, {d['operations']} operations")

    def _on_resumed(self, d: dict[str, Any]) -> None:
        brief = f" with the brief: {escape(str(d['brief']))}" if d.get("brief") else ""
        self.console.print(f"[bold]↻ resumed[/] ({escape(str(d.get('from_status')))}) at "
                           f"{escape(str(d.get('stage')))}: a fresh ladder{brief}; spent so "
                           f"far {int(d['spent_before']['tokens']):,} tokens")
        self.tokens = int(d["spent_before"]["tokens"])
        self.cost = float(d["spent_before"]["cost_usd"])


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    return f"{n / 1024:.1f} KB" if n < 1 << 20 else f"{n / (1 << 20):.1f} MB"
