"""Which tests a ticket must make pass, and why: the tests it names (``fail_to_pass``), or, when
it names none, those of the tests already failing at the base commit that the Planner declares
the ticket is about (its ``acceptance_tests``). Every other failure at the base commit stays
forgiven. Without a target only "no new failures" and a non-empty diff guard the verdict."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from harness.pipeline.manifest import Manifest
from harness.pipeline.ticket import Ticket
from harness.sandbox.baseline import Baseline, named

Source = Literal["ticket", "planner", "none"]
SHOWN_MAX = 200  # failing tests listed to the Planner; a suite broken wholesale is summarised


@dataclass(frozen=True)
class Target:
    tests: tuple[str, ...]
    source: Source  # named by the ticket, declared by the Planner, or none
    why: str

    def as_dict(self) -> dict[str, Any]:
        return {"tests": list(self.tests), "source": self.source, "why": self.why}


def candidates(ticket: Ticket, baseline: Baseline | None) -> tuple[str, ...]:
    """The tests shown to the Planner to choose from: those failing at the base commit, when
    the ticket names none itself and the baseline could read test names."""
    if ticket.fail_to_pass or baseline is None or not baseline.usable:
        return ()
    return baseline.failing


def initial_target(ticket: Ticket, baseline: Baseline | None) -> Target:
    """The target before the Planner has spoken."""
    if ticket.fail_to_pass:
        return Target(tuple(ticket.fail_to_pass), "ticket", "named by the ticket's fail_to_pass")
    if baseline is None or not baseline.usable:
        return Target((), "none", "no usable baseline: the exit code and a non-empty diff decide")
    if not baseline.failing:
        return Target((), "none", "no test fails at the base commit: judged on new failures "
                      "and a non-empty diff")
    return Target((), "none", f"{len(baseline.failing)} test(s) fail at the base commit; the "
                  "Planner has not declared which the ticket must fix")


def declared_target(ticket: Ticket, baseline: Baseline | None, manifest: Manifest) -> Target:
    """The target once a manifest is accepted."""
    shown = candidates(ticket, baseline)
    if not shown:
        return initial_target(ticket, baseline)
    if not manifest.acceptance_tests:
        return Target((), "none", f"the Planner declared none of the {len(shown)} test(s) "
                      "failing at the base commit as the ticket's: all stay forgiven")
    return Target(tuple(manifest.acceptance_tests), "planner",
                  f"declared by the Planner from the {len(shown)} test(s) failing at the base "
                  "commit; the others stay forgiven")


def acceptance_problems(manifest: Manifest, shown: Sequence[str]) -> list[str]:
    """A declared acceptance test must be one of the tests shown (it fails at the base)."""
    if not shown:
        return []
    return [f"acceptance test `{name}` does not fail at the base commit: declare only tests "
            "from the list of failing tests, or none" for name in manifest.acceptance_tests
            if not named(name, shown)]


def candidates_section(shown: Sequence[str]) -> str:
    """The Planner's prompt section listing the tests that fail before any change."""
    if not shown:
        return ""
    listed = "\n".join(f"- {name}" for name in shown[:SHOWN_MAX])
    more = f"\n- … and {len(shown) - SHOWN_MAX} more" if len(shown) > SHOWN_MAX else ""
    return ("## Tests that already fail at the base commit\n"
            "The ticket names no tests that must pass. These fail before any change. In the "
            "manifest's `acceptance_tests`, list those this ticket must make pass (names as "
            "below; an empty list when the ticket is about none of them). They are then "
            "required to pass; the others are not counted against the change.\n"
            f"{listed}{more}")
