"""The live display of `harness run`: what a run's events print, and that text from the
repository or the model (test names, a Debugger's root cause) is printed as it is, never read
as rich markup (a test named ``[/]`` would otherwise end the run with a MarkupError)."""

from __future__ import annotations

import io

from rich.console import Console

from harness.cli.run_cmds import LiveDisplay, report
from harness.runs.execute import RunResult


def shown(*events: tuple[str, dict[str, object]]) -> str:
    out = io.StringIO()
    display = LiveDisplay(Console(file=out, width=400, color_system=None))
    for kind, data in events:
        display(kind, data)
    display.close()
    return out.getvalue()


HOSTILE = ["[/]", "[bold red]not bold[/bold red]", "a [link=file:///etc/passwd]x[/link]"]


def test_test_names_and_root_causes_print_literally() -> None:
    text = shown(("tests", {"scope": "full", "passed": False, "failing": HOSTILE}),
                 ("routed", {"failing": "[/]", "owner": "coder", "root_cause": "[/] [red]"}))
    for name in HOSTILE:
        assert name in text
    assert "↪ debugger: [/] failed; the fix goes to coder — [/] [red]" in text


def test_the_baseline_and_its_warning_are_shown() -> None:
    text = shown(("baseline", {"cached": False, "failing": ["trims dashes", "[/]"],
                               "warning": "2 test(s) already fail [/]"}))
    assert "baseline (measured): 2 test(s) fail at the base commit — trims dashes, [/]" in text
    assert "2 test(s) already fail [/]" in text
    assert "baseline (cached): 0 test(s)" in shown(("baseline", {"cached": True, "failing": []}))


def test_the_target_tests_and_why_are_shown() -> None:
    text = shown(("target", {"tests": ["trims dashes", "[/]"], "source": "planner",
                             "why": "declared by the Planner [red]"}))
    assert "target tests: trims dashes, [/] — declared by the Planner [red]" in text
    assert "target tests: none — no usable baseline" in shown(
        ("target", {"tests": [], "source": "none", "why": "no usable baseline"}))


def test_a_results_detail_prints_literally(tmp_path: object) -> None:
    out = io.StringIO()
    report(Console(file=out, width=400, color_system=None),
           RunResult("halted", tmp_path, "coder ran out of attempts: [/] still fails"))  # type: ignore[arg-type]
    assert "halted: coder ran out of attempts: [/] still fails" in out.getvalue()


def test_a_reproductions_names_and_output_print_literally() -> None:
    from harness.cli.reproduce_cmds import show  # noqa: PLC0415
    from harness.runs.reproduce import Reproduction, Seen  # noqa: PLC0415
    then = Seen("exit 1", ("[/]", "[bold]b[/bold]"), "ok\n[/] then\n")
    now = Seen("exit 1", ("[/]",), "ok\n[/] now\n")
    out = io.StringIO()
    show(Console(file=out, width=400, color_system=None),
         Reproduction("coder/a1", "npm test [/]", then, now, "the same image [/]"))
    text = out.getvalue()
    for part in ("npm test [/]", "[bold]b[/bold]", "the same image [/]", "then: [/] then",
                 "now:  [/] now"):
        assert part in text


def test_on_a_terminal_builds_and_test_runs_show_progress_and_elapsed_time() -> None:
    import time  # noqa: PLC0415

    out = io.StringIO()
    display = LiveDisplay(Console(file=out, width=200, force_terminal=True,
                                  color_system=None))
    for n in range(3):
        display("sandbox", {"line": f"added {n} packages [/]"})
    time.sleep(0.3)  # the live lines refresh ten times a second
    display("baseline", {"cached": True, "failing": []})
    display("attempt_start", {"label": "coder/S1/a1", "tier": "medium", "model": "m",
                              "vendor": "v"})
    display("tests_start", {"label": "coder/S1/a1", "scope": "affected"})
    time.sleep(0.3)
    display("tests", {"scope": "affected", "passed": True, "failing": [], "seconds": 2.5})
    display.close()
    text = out.getvalue()
    assert "sandbox: 3 steps, 63 B of output · added 2 packages [/]" in text
    assert "sandbox ready: 3 steps, 63 B of output in " in text
    assert "tests (affected) for coder/S1/a1" in text
    assert "0:00:00" in text  # the elapsed column
    assert "tests (affected): passed in 2.5s" in text


def test_piped_output_gets_no_live_lines() -> None:
    text = shown(("sandbox", {"line": "added 1 package"}),
                 ("tests_start", {"label": "coder/S1/a1", "scope": "full"}),
                 ("tests", {"scope": "full", "passed": False, "failing": ["x"]}))
    assert "sandbox" not in text
    assert "tests (full) for" not in text
    assert text == "    tests (full): failed — failing: x\n"
