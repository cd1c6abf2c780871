"""Reading instances: SWE-bench rows (lists as JSON strings, extra fields kept), harness tickets,
errors with file:line; the agent's ticket never holds the hidden tests; repositories from
--repo, --repos clones and bare mirrors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from harness.errors import InstanceError
from harness.eval.instances import RepoSource, load_instances

TEST_PATCH = ("diff --git a/test/hidden.test.js b/test/hidden.test.js\nnew file mode 100644\n"
              "--- /dev/null\n+++ b/test/hidden.test.js\n@@ -0,0 +1 @@\n+test('secret name')\n")
ROW = {"instance_id": "acme__slug-1", "repo": "acme/slug", "base_commit": "abc123",
       "problem_statement": "slugify keeps dashes\n\nIt should trim them.",
       "test_patch": TEST_PATCH, "patch": "diff --git a/x b/x\n",
       "FAIL_TO_PASS": '["secret name"]', "PASS_TO_PASS": '["joins words"]',
       "version": "1.0", "environment_setup_commit": "def456"}


def write_jsonl(path: Path, *rows: object) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_swe_bench_rows_parse_lists_and_keep_extras(tmp_path: Path) -> None:
    (inst,) = load_instances(write_jsonl(tmp_path / "i.jsonl", ROW))
    assert inst.FAIL_TO_PASS == ("secret name",)
    assert inst.PASS_TO_PASS == ("joins words",)
    assert inst.extras() == {"version": "1.0", "environment_setup_commit": "def456"}
    assert inst.where == f"{tmp_path / 'i.jsonl'}:1"


def test_the_agents_ticket_never_holds_the_hidden_tests(tmp_path: Path) -> None:
    (inst,) = load_instances(write_jsonl(tmp_path / "i.jsonl", ROW))
    ticket = inst.ticket()
    seen = ticket.model_dump_json() + ticket.text()
    assert "secret name" not in seen
    assert "hidden.test.js" not in seen
    assert "joins words" not in seen
    assert ticket.fail_to_pass == []
    assert ticket.title == "slugify keeps dashes"
    assert ticket.base == "abc123"


@pytest.mark.parametrize(("lines", "message"), [
    (['{"instance_id": "a"}', "not json"], r"i\.jsonl:2: not JSON"),
    (['{"instance_id": "a"}', '{"instance_id": "a"}'], r"i\.jsonl:2: instance `a` also at .*:1"),
    (['{"instance_id": "a", "FAIL_TO_PASS": "[oops"}'], r"i\.jsonl:1: FAIL_TO_PASS"),
    (['{"instance_id": "bad id!"}'], r"i\.jsonl:1: instance_id"),
    (['{"instance_id": "a"}', '{"id": "b", "title": "t"}'], r"i\.jsonl:2: no `instance_id`")])
def test_bad_instances_name_file_and_line(tmp_path: Path, lines: list[str], message: str) -> None:
    path = tmp_path / "i.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InstanceError, match=message):
        load_instances(path)


def test_harness_tickets_are_instances_graded_against_the_baseline(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "a.yaml").write_text("id: T-1\ntitle: trim\nbody: trim dashes\n"
                                           "fail_to_pass: [trims dashes]\n")
    (inst,) = load_instances(tmp_path / "t")
    assert inst.instance_id == "T-1"
    assert inst.FAIL_TO_PASS == ("trims dashes",)
    assert inst.PASS_TO_PASS is None  # no list: no new failure against the base commit
    assert inst.ticket().fail_to_pass == ["trims dashes"]  # the user's own, visible


def test_repositories_from_repo_clones_and_bare_mirrors(tmp_path: Path) -> None:
    (inst,) = load_instances(write_jsonl(tmp_path / "i.jsonl", ROW))
    local = tmp_path / "local"
    subprocess.run(["git", "init", "-q", str(local)], check=True)
    assert RepoSource(repos=None, repo=local, scratch=tmp_path / "s").path(inst) == local
    clones = tmp_path / "clones"
    subprocess.run(["git", "init", "-q", str(clones / "acme+slug")], check=True)
    found = RepoSource(repos=clones, repo=None, scratch=tmp_path / "s").path(inst)
    assert found == clones / "acme+slug"
    mirrors = tmp_path / "mirrors"
    subprocess.run(["git", "-c", "init.defaultBranch=main", "init", "-q", "--bare",
                    str(mirrors / "acme+slug" / "repo")], check=True)
    found = RepoSource(repos=mirrors, repo=None, scratch=tmp_path / "s").path(inst)
    assert found == tmp_path / "s" / "acme+slug"
    assert (found / ".git").is_dir()
    with pytest.raises(InstanceError, match="no repository for `acme/slug`"):
        RepoSource(repos=tmp_path / "none", repo=None, scratch=tmp_path / "s").path(inst)


@pytest.mark.parametrize("name", ["..", "../x", "acme/..", "a/b/c", "/etc/x", "acme/slug/.."])
def test_a_repo_name_cannot_leave_the_repos_directory(tmp_path: Path, name: str) -> None:
    (inst,) = load_instances(write_jsonl(tmp_path / "i.jsonl", {**ROW, "repo": name}))
    subprocess.run(["git", "init", "-q", str(tmp_path / "top")], check=True)  # DIR's parent
    subprocess.run(["git", "init", "-q", str(tmp_path / "top" / "repos" / "x")], check=True)
    with pytest.raises(InstanceError, match="no repository"):
        RepoSource(repos=tmp_path / "top" / "repos", repo=None,
                   scratch=tmp_path / "s").path(inst)
