"""Ranking and rendering: the right files first on repos where the answer is known, and a map
that never exceeds its budget."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from harness.repomap import FactsCache, Ranker, RepoMap, build_index, render_map
from harness.repomap.index import is_test
from harness.repomap.terms import estimate_tokens, split_identifier, stem, terms
from tests.repomap.acme import ACME, TICKET

MakeRepo = Callable[[Mapping[str, str | bytes]], Path]
GENERATOR = Path(__file__).resolve().parents[2] / "scripts" / "gen-monorepo.py"


@pytest.fixture(scope="module")
def monorepo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mono") / "repo"
    subprocess.run([sys.executable, str(GENERATOR), "--out", str(out), "--lines", "6000",
                    "--packages", "4", "--seed", "3", "--git"], check=True, capture_output=True)
    return out


def test_words_meet_between_prose_and_code() -> None:
    assert split_identifier("ssrRenderAttrs") == ("ssr", "render", "attr", "ssrrenderattrs")
    assert stem("handling") == stem("handled") == stem("handles") == stem("handle")
    assert "server-renderer" in terms("fix(server-renderer): reject names")
    assert "the" not in terms("the refund")


def test_the_hand_made_repo_ranks_the_known_answer_first(make_repo: MakeRepo) -> None:
    ranker = Ranker(build_index(make_repo(ACME), "HEAD", FactsCache(None)))
    ranked = [p for p, _ in ranker.rank(TICKET)]
    assert ranked[0] == "packages/payments/src/refund.ts"
    # the code it calls is one import away: the graph brings it into the top files
    assert "packages/money/src/currency.ts" in ranked[:3]
    assert ranked.index("packages/payments/src/refund.test.ts") > ranked.index(
        "packages/payments/src/refund.ts")  # tests rank below the code they test
    # a path named in the ticket wins outright
    assert ranker.rank("see libs/audit.ts for the log line")[0][0] == "libs/audit.ts"
    # an identifier the ticket names: the file that declares it
    assert ranker.rank("the `RateTable` lookup misses")[0][0] == "packages/money/src/rates.ts"


def test_the_graph_step_reaches_files_without_the_words(make_repo: MakeRepo) -> None:
    ranker = Ranker(build_index(make_repo(ACME), "HEAD", FactsCache(None)))
    query = "console log"
    bm25 = [p for p, _ in ranker.rank(query, "bm25")]
    lexical = [p for p, _ in ranker.rank(query, "lexical")]
    spread = [p for p, _ in ranker.rank(query, "map")]
    assert bm25 == lexical == ["libs/audit.ts"]
    # refund.ts says neither word but imports audit.ts: one step along the graph
    assert spread[0] == "libs/audit.ts"
    assert "packages/payments/src/refund.ts" in spread
    assert ranker.rank("zzz qqq", "lexical") == []


def test_the_map_shows_paths_and_signatures_within_its_budget(make_repo: MakeRepo) -> None:
    repo_map = RepoMap.build(make_repo(ACME), "HEAD", None)
    text = repo_map.render(TICKET, 2000)
    assert text.splitlines()[1] == "packages/payments/src/refund.ts"
    assert "  10: export function refund(payment: Payment): Money" in text
    assert "export function convertCurrency(money: Money, to: Currency): Money" in text
    for budget in (1, 40, 60, 120, 300, 2000):
        assert estimate_tokens(repo_map.render(TICKET, budget)) <= budget
    assert repo_map.render(TICKET, 0) == ""
    assert repo_map.answer("zzz qqq", None).startswith("The task names nothing")


def test_a_ticket_that_names_nothing_gets_the_central_files(make_repo: MakeRepo) -> None:
    repo_map = RepoMap.build(make_repo(ACME), "HEAD", None)
    central = repo_map.ranker.central()
    assert repo_map.ranker.rank("fix typo", "map") == central
    imported = {t for targets in repo_map.index.imports.values() for t in targets}
    assert central[0][0] in imported  # the most imported file leads, not a leaf
    text = repo_map.render("fix typo", 2000)
    assert text.startswith("The task names nothing this repository holds")
    assert central[0][0] in text.splitlines()


def test_the_generated_monorepo(monorepo: Path) -> None:
    index = build_index(monorepo, "HEAD", FactsCache(None))
    tracked = subprocess.run(["git", "-C", str(monorepo), "ls-files", "*.ts"], check=True,
                             capture_output=True, text=True).stdout.split()
    assert set(index.files) == set(tracked)
    assert not any(f.syntax_errors for f in index.files.values())
    cross = [(a, b) for a, targets in index.imports.items() for b in targets
             if a.split("/")[1] != b.split("/")[1]]
    assert cross, "imports of @mono/pkg-XX resolve to the other package's files"
    assert all(not b.endswith("/index.ts") for _, b in cross)  # through the barrel
    module = next(p for p in sorted(index.files) if not is_test(p) and
                  not p.endswith("index.ts") and index.files[p].symbols)
    name = next(s.name for s in index.files[module].symbols if s.exported)
    ranked = [p for p, _ in Ranker(index).rank(f"`{name}` returns the wrong value")]
    assert module in ranked[:3]
    text = render_map(index, Ranker(index).rank(name), name, 1500)
    assert estimate_tokens(text) <= 1500
    assert module in text


def test_a_narrow_ticket_still_gets_ten_files(make_repo: MakeRepo) -> None:
    repo_map = RepoMap.build(make_repo(ACME), "HEAD", None)
    lexical = repo_map.ranker.rank("audit", "lexical")
    ranked = repo_map.ranker.rank("audit", "map")
    assert len(lexical) < 10
    assert len(ranked) == min(10, len(repo_map.index.files))
    assert "libs/audit.ts" in [p for p, _ in ranked[:3]]
    assert [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True)
