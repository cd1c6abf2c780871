"""The baseline before blame: judging a test run against the suite at the base commit and the
ticket's fail-to-pass tests (pure), the store the baselines are cached in, and which commands
get a machine-readable report asked for."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.sandbox.baseline import Baseline, BaselineStore, judge, named
from harness.sandbox.reporting import Instrumented, instrument
from harness.sandbox.testreport import FailingTest, TestReport, parse_test_output


def base(failing: tuple[str, ...] = ("flaky > old",), exit_code: int = 1,
         fmt: str = "tap") -> Baseline:
    return Baseline("c" * 40, "sha256:img", "npm test", exit_code, False, fmt, failing,
                    ("a > one",), 1.5)


def report(failing: list[str], passing: tuple[str, ...] = (), fmt: str = "tap") -> TestReport:
    return TestReport(fmt, len(passing), len(failing), 0,  # type: ignore[arg-type]
                      tuple(FailingTest(n, None, "") for n in failing), passing)


def test_a_failure_that_was_there_before_is_not_the_coders() -> None:
    v = judge(report(["flaky > old"], ("a > one",)), ok=False, stopped=False, scope="full",
              baseline=base())
    assert (v.passed, v.pre_existing, v.new_failures, v.how) == (
        True, ("flaky > old",), (), "baseline")
    assert "already failed at the base commit" in v.lines()[0]


def test_a_package_run_alone_names_its_old_failures_without_the_package() -> None:
    """pnpm prefixes a package's output only when it runs several: the affected run of one
    package names "old", the full suite's baseline "packages/p > flaky > old"."""
    before = base(failing=("packages/p > flaky > old",))
    v = judge(report(["flaky > old", "flaky > new"]), ok=False, stopped=False,
              scope="affected", baseline=before)
    assert (v.pre_existing, v.new_failures) == (("flaky > old",), ("flaky > new",))


def test_a_new_failure_is() -> None:
    v = judge(report(["flaky > old", "a > one"]), ok=False, stopped=False, scope="full",
              baseline=base())
    assert (v.passed, v.new_failures) == (False, ("a > one",))


def test_fail_to_pass_tests_must_pass_and_must_have_run() -> None:
    ftp = ("trims dashes",)
    still = judge(report(["slug > trims dashes"]), ok=False, stopped=False, scope="full",
                  baseline=base(("slug > trims dashes",)), fail_to_pass=ftp)
    assert not still.passed  # pre-existing, but the ticket is about it
    assert still.fail_to_pass == {"trims dashes": "failed"}
    fixed = judge(report([], ("slug > trims dashes",)), ok=True, stopped=False, scope="full",
                  baseline=base(("slug > trims dashes",)), fail_to_pass=ftp)
    assert fixed.passed
    quiet = judge(report(["legacy"], ()), ok=False, stopped=False, scope="full",
                  baseline=base(("legacy", "slug > trims dashes")), fail_to_pass=ftp)
    assert quiet.fail_to_pass == {"trims dashes": "not run"}  # nothing is said to have passed
    listed_failures_only = TestReport("vitest", 5, 1, 0, (FailingTest("legacy", None, ""),))
    inferred = judge(listed_failures_only, ok=False, stopped=False, scope="full",
                     baseline=base(("legacy", "slug > trims dashes")), fail_to_pass=ftp)
    assert inferred.fail_to_pass == {"trims dashes": "passed"}  # failed before, not now
    assert inferred.passed
    absent = judge(report([], ("other",)), ok=False, stopped=False, scope="full",
                   baseline=base(()), fail_to_pass=ftp)
    assert absent.fail_to_pass == {"trims dashes": "not run"}
    assert not absent.passed
    affected = judge(report([], ("other",)), ok=True, stopped=False, scope="affected",
                     baseline=base(()), fail_to_pass=ftp)
    assert affected.passed  # an affected run need not run it; the full suite will
    assert "must pass do not" in " ".join(absent.lines())


def test_without_a_usable_baseline_the_exit_code_decides() -> None:
    for baseline in (None, base(fmt="raw"), Baseline("c", "i", "t", 1, True, "tap", (), (), 9)):
        v = judge(report(["flaky > old"]), ok=False, stopped=False, scope="full",
                  baseline=baseline)
        assert (v.passed, v.how) == (False, "exit code")
    raw = judge(report([], fmt="raw"), ok=True, stopped=False, scope="full", baseline=base())
    assert (raw.passed, raw.how) == (True, "exit code")


def test_a_non_zero_exit_with_no_failure_named() -> None:
    """A coverage threshold or a lint step in the test command: the change's fault unless the
    base commit exited non-zero too."""
    clean_base = base((), exit_code=0)
    assert not judge(report([]), ok=False, stopped=False, scope="full", baseline=clean_base).passed
    assert judge(report([]), ok=False, stopped=False, scope="full", baseline=base(())).passed
    assert not judge(report([]), ok=False, stopped=True, scope="full", baseline=base(())).passed


def test_names_match_exactly_or_at_the_end() -> None:
    assert named("trims dashes", ["slug > trims dashes"])
    assert named("slug > trims dashes", ["slug > trims dashes"])
    assert not named("dashes", ["slug > trims dashes"])


def test_a_control_character_in_a_title_is_not_part_of_the_name() -> None:
    """vitest prints a title with a NUL as it is; its JUnit report (XML) cannot carry one."""
    text = (" FAIL  t.test.ts > parseURL > \x00javascript:x\nAssertionError: no\n⎯⎯⎯\n"
            " Test Files  1 failed (1)\n      Tests  1 failed (1)\n")
    (failing,) = parse_test_output("", text, 1).failing
    assert failing.name == "parseURL > javascript:x"
    assert named("parseURL > \x00javascript:x", [failing.name])


def test_the_store_keys_by_commit_image_and_command(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path / ".baseline")
    assert store.get("c" * 40, "sha256:img", "npm test") is None
    store.put(base())
    found = store.get("c" * 40, "sha256:img", "npm test")
    assert found is not None
    assert found.cached
    assert (found.failing, found.passing) == (("flaky > old",), ("a > one",))
    assert store.get("c" * 40, "sha256:other", "npm test") is None
    assert store.get("c" * 40, "sha256:img", "npm run test:unit") is None
    store.path("c" * 40, "sha256:img", "npm test").write_text("{not json")
    assert store.get("c" * 40, "sha256:img", "npm test") is None  # unreadable: measured again


@pytest.mark.parametrize(("command", "scripts", "wanted"), [
    ("npx vitest run", {}, "npx vitest run --reporter=default --reporter=junit "
                           "--outputFile.junit=DIR/vitest.xml"),
    ("pnpm vitest run", {}, "pnpm vitest run --reporter=default --reporter=junit "
                            "--outputFile.junit=DIR/vitest.xml"),
    ("npm test", {"test": "jest --coverage"}, "npm test -- --json --outputFile=DIR/jest.json"),
    ("yarn test", {"test": "vitest run"}, "yarn test --reporter=default --reporter=junit "
                                          "--outputFile.junit=DIR/vitest.xml"),
    ("pnpm run test:unit", {"test:unit": "jest"}, "pnpm run test:unit --json "
                                                  "--outputFile=DIR/jest.json"),
    ("yarn vitest run -t '^(?!.*perf)'", {}, "yarn vitest run -t '^(?!.*perf)' "
     "--reporter=default --reporter=junit --outputFile.junit=DIR/vitest.xml"),
])
def test_a_known_runner_is_asked_for_a_report(command: str, scripts: dict[str, str],
                                              wanted: str) -> None:
    asked = instrument(command, scripts)
    assert asked.report_dir is not None
    assert asked.command == f"mkdir -p DIR && {wanted}".replace("DIR", asked.report_dir)


@pytest.mark.parametrize(("command", "scripts"), [
    ("npm test", {"test": "pnpm lint && vitest run"}),  # more than the runner
    ("npx vitest run --reporter=verbose", {}),  # the user chose a reporter
    ("jest --json", {}),
    ("node --test", {}),  # node's own output lists every test already
    ("npm test", {}),
    ("npm test", {"test": "mocha"}),
    ("npx vitest run > out.txt", {}),
    ("npx vitest run $(cat files)", {}),
    ("npx vitest run 'unclosed", {}),
])
def test_anything_else_runs_as_written(command: str, scripts: dict[str, str]) -> None:
    assert instrument(command, scripts) == Instrumented(command)
