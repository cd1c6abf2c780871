"""The ticket's target tests must pass as committed at the base commit: a Coder that makes them
pass by editing them has not fixed anything (honest verdicts)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness.pipeline.as_committed import edited_tests, without
from harness.vendors.scripted import Reply
from tests.pipeline.conftest import FIXED, TEST, Outcome
from tests.pipeline.test_scripted_runs import PLAN, Plays, stages

PATCH = """\
diff --git a/src/slug.js b/src/slug.js
index 1..2 100644
--- a/src/slug.js
+++ b/src/slug.js
@@ -1 +1 @@
-a
+b
diff --git a/test/slug.test.js b/test/slug.test.js
index 3..4 100644
--- a/test/slug.test.js
+++ b/test/slug.test.js
@@ -1 +1 @@
-c
+d
diff --git a/test/new.test.js b/test/new.test.js
new file mode 100644
index 0..5
--- /dev/null
+++ b/test/new.test.js
@@ -0,0 +1 @@
+e
diff --git a/src/__tests__/old.spec.ts b/src/__tests__/old.spec.ts
deleted file mode 100644
index 6..0
--- a/src/__tests__/old.spec.ts
+++ /dev/null
@@ -1 +0,0 @@
-f
"""


def test_the_edited_test_files_are_those_that_existed_before() -> None:
    assert edited_tests(PATCH) == ["test/slug.test.js", "src/__tests__/old.spec.ts"]
    kept = without(PATCH, edited_tests(PATCH))
    assert [line for line in kept.splitlines() if line.startswith("diff --git")] == [
        "diff --git a/src/slug.js b/src/slug.js",
        "diff --git a/test/new.test.js b/test/new.test.js"]
    assert "+b\n" in kept
    assert "+e\n" in kept
    assert edited_tests("") == []


def write(path: str, content: str) -> list[Reply]:
    return [Reply("", [("write_file", {"path": path, "content": content})]),
            Reply("", [("finish", {"summary": f"changed {path}"})])]


TAMPERED = TEST.replace('assert.strictEqual(slugify(" Hi, you! "), "hi-you")', "assert.ok(true)")
assert TAMPERED != TEST
EXTENDED = TEST + 'test("keeps digits", () => assert.strictEqual(slugify("a1"), "a1"));\n'


@pytest.mark.docker
def test_a_coder_that_rewrites_the_target_test_does_not_resolve(
        run: Callable[..., Outcome]) -> None:
    """Attempt 1 rewrites the target test to assert nothing: the suite passes,
    but not as committed (it resolved before). Attempt 2 fixes the code and puts the test back."""
    coder = Plays(write("test/slug.test.js", TAMPERED),
                  [Reply("", [("write_file", {"path": "src/slug.js", "content": FIXED})]),
                   *write("test/slug.test.js", TEST)])
    out = run(stages({"planner": Plays(PLAN), "coder": coder}))
    assert out.result.status == "resolved", out.result.detail
    assert out.outcomes("coder") == ["tests_failed", "passed"]
    first = out.state["attempts"][1]
    assert "pass only with your edits to test/slug.test.js" in first["detail"]
    told = " ".join(m.text for m in coder.requests[2].messages)
    assert "do not change the tests the ticket says must pass" in told
    assert TAMPERED not in out.result.patch.read_text()
    assert "assert.ok(true)" not in out.result.patch.read_text()


@pytest.mark.docker
def test_a_fix_that_also_adds_a_test_to_the_targets_file_resolves(
        run: Callable[..., Outcome]) -> None:
    coder = Plays([Reply("", [("write_file", {"path": "src/slug.js", "content": FIXED})]),
                   *write("test/slug.test.js", EXTENDED)])
    out = run(stages({"planner": Plays(PLAN), "coder": coder}))
    assert out.result.status == "resolved", out.result.detail
    assert out.outcomes("coder") == ["passed"]
    assert "keeps digits" in out.result.patch.read_text()
