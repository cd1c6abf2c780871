"""``harness map``: the map a ticket's Planner would see, from a repository on disk."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.repomap.terms import estimate_tokens
from tests.repomap.acme import ACME, TICKET
from tests.repomap.conftest import commit


@pytest.fixture
def acme(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.setenv("HARNESS_HOME", str(tmp_path / "home"))
    repo = tmp_path / "repo"
    commit(repo, ACME)
    title, _, body = TICKET.partition("\n")
    ticket = tmp_path / "ticket.md"
    ticket.write_text(f"---\nid: PAY-1\ntitle: {title}\n---\n{body}", encoding="utf-8")
    return repo, ticket


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_it_prints_the_planners_map_and_caches_the_parse(acme: tuple[Path, Path],
                                                         tmp_path: Path) -> None:
    repo, ticket = acme
    code, out, err = run("map", str(ticket), "--repo", str(repo))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("The files most relevant to this task")
    assert lines[1] == "packages/payments/src/refund.ts"
    assert "  10: export function refund(payment: Payment): Money" in lines
    assert "10 files indexed (10 parsed, the rest cached)" in err
    assert "0 with parse errors" in err
    assert (tmp_path / "home" / "repomap" / "facts.sqlite").exists()
    code, again, err = run("map", str(ticket), "--repo", str(repo))
    assert again == out
    assert "(0 parsed, the rest cached)" in err


def test_tokens_and_base(acme: tuple[Path, Path]) -> None:
    repo, ticket = acme
    code, out, err = run("map", str(ticket), "--repo", str(repo), "--tokens", "80")
    assert code == 0, err
    assert 0 < estimate_tokens(out) <= 80
    assert f"map {estimate_tokens(out)} of 80 tokens" in err
    code, out, _ = run("map", str(ticket), "--repo", str(repo), "--tokens", "0")
    assert (code, out) == (0, "")
    code, _, err = run("map", str(ticket), "--repo", str(repo), "--base", "no-such-ref")
    assert code == 1
    assert "`no-such-ref` names no commit" in err


def test_a_ticket_naming_nothing_gets_the_central_files_and_says_so(
        acme: tuple[Path, Path], tmp_path: Path) -> None:
    repo, _ = acme
    ticket = tmp_path / "typo.md"
    ticket.write_text("---\nid: T-1\ntitle: fix typo\n---\nplease\n", encoding="utf-8")
    code, out, err = run("map", str(ticket), "--repo", str(repo))
    assert code == 0, err
    assert out.startswith("The task names nothing this repository holds")
    assert len([line for line in out.splitlines() if not line.startswith(" ")]) > 2
    assert "the map shows the repository's central files" in err
