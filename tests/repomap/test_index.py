"""The symbol index: read from the object store at a commit, the import graph through workspace
package names, barrels and tsconfig paths, and the blob-id cache."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from harness.errors import RepoMapError
from harness.repomap import FactsCache, build_index
from tests.repomap.acme import ACME
from tests.repomap.conftest import commit, git

MakeRepo = Callable[[Mapping[str, str | bytes]], Path]


def test_symbols_and_signatures_of_the_hand_made_repo(make_repo: MakeRepo) -> None:
    index = build_index(make_repo(ACME), "HEAD", FactsCache(None))
    assert "README.md" not in index.files
    assert "package.json" not in index.files
    currency = {s.name: s for s in index.files["packages/money/src/currency.ts"].symbols}
    assert currency["convertCurrency"].signature == (
        "export function convertCurrency(money: Money, to: Currency): Money")
    assert currency["convertCurrency"].line == 9
    assert currency["convertCurrency"].exported
    assert not currency["rateBetween"].exported  # top level, not exported: still indexed
    assert currency["Money"].kind == "interface"
    assert currency["Currency"].signature == 'export type Currency = "USD" | "EUR" | "JPY";'
    rates = {(s.parent, s.name) for s in index.files["packages/money/src/rates.ts"].symbols}
    assert ("RateTable", "lookup") in rates  # public methods; private fields are left out
    assert ("RateTable", "rates") not in rates
    assert index.files["web/app.tsx"].symbols[0].name == "App"  # TSX parses


def test_the_graph_resolves_package_names_through_barrels_and_tsconfig_paths(
        make_repo: MakeRepo) -> None:
    graph = build_index(make_repo(ACME), "HEAD", FactsCache(None)).imports
    # `import { convertCurrency } from "@acme/money"`: the package's entry is a barrel that
    # re-exports; the edge goes to the file that declares the name.
    assert graph["packages/payments/src/refund.ts"] == (
        "packages/money/src/currency.ts", "libs/audit.ts")  # "@lib/*" from tsconfig paths
    assert graph["packages/payments/src/ledger.ts"] == ("packages/payments/src/refund.ts",)
    assert graph["scripts/report.js"] == ("packages/payments/src/ledger.ts",)  # require()
    assert graph["web/app.tsx"] == ("packages/payments/src/refund.ts",)  # named re-export
    assert graph["packages/money/src/index.ts"] == (
        "packages/money/src/currency.ts", "packages/money/src/rates.ts")


def test_it_reads_the_commit_not_the_working_tree(make_repo: MakeRepo,
                                                  tmp_path: Path) -> None:
    repo = make_repo(ACME)
    base = git(repo, "rev-parse", "HEAD")
    commit(repo, {"packages/money/src/extra.ts": "export const later = 1;\n"})
    (repo / "packages/money/src/currency.ts").write_text("garbage that is not committed")
    index = build_index(repo, base, FactsCache(None))
    assert "packages/money/src/extra.ts" not in index.files
    assert index.commit == base
    bare = tmp_path / "bare.git"  # no working tree at all
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(bare)], check=True)
    from_bare = build_index(bare, base, FactsCache(None))
    assert from_bare.files.keys() == index.files.keys()
    assert from_bare.imports == index.imports


def test_the_cache_reparses_only_changed_blobs(make_repo: MakeRepo, tmp_path: Path) -> None:
    repo = make_repo(ACME)
    cache_dir = tmp_path / "cache"
    with FactsCache(cache_dir) as cache:
        first = build_index(repo, "HEAD", cache)
    assert first.stats.parsed == first.stats.files == 10
    with FactsCache(cache_dir) as cache:  # a new process on the same commit
        again = build_index(repo, "HEAD", cache)
    assert again.stats.parsed == 0
    assert again.files == first.files
    commit(repo, {"libs/audit.ts": "export function audit(): void {}\n",
                  "libs/clock.ts": "export const now = () => 0;\n",
                  "packages/payments/src/refund.ts": ACME["packages/payments/src/refund.ts"]})
    with FactsCache(cache_dir) as cache:
        changed = build_index(repo, "HEAD", cache)
    assert changed.stats.parsed == 2  # audit.ts changed, clock.ts is new; refund.ts is not
    assert changed.files["libs/audit.ts"].symbols[0].signature == "export function audit(): void"


def test_identical_files_are_indexed_once(make_repo: MakeRepo) -> None:
    same = "export function twin(): number {\n  return 2;\n}\n"
    index = build_index(make_repo({"examples/b/x.ts": same, "a/deep/x.ts": same}), "HEAD",
                        FactsCache(None))
    assert index.stats.parsed == 1
    assert set(index.files) == {"a/deep/x.ts"}  # the copy outside the examples stays
    assert dict(index.stats.excluded) == {"duplicate": 1}


def test_syntax_errors_and_non_utf8_files_still_index(make_repo: MakeRepo) -> None:
    repo = make_repo({
        "src/broken.ts": "export function ok(a: number): number {\n  return a;\n}\n"
                         "export function broken(a: number {\n  return a;\n",
        "src/latin1.js": "export const caf\xe9 = 'cr\xe8me';\nexport function menu() {}\n"
                         .encode("latin-1"),
        "src/binary.js": b"\x00\xff\xfe\x00garbage\x00",
        "src/empty.ts": "",
    })
    index = build_index(repo, "HEAD", FactsCache(None))
    broken = index.files["src/broken.ts"]
    assert broken.syntax_errors
    assert "ok" in {s.name for s in broken.symbols}
    latin1 = index.files["src/latin1.js"]
    assert "menu" in {s.name for s in latin1.symbols}
    assert "cr\ufffdme" not in latin1.terms  # undecodable bytes are replaced, not fatal
    assert index.files["src/empty.ts"].symbols == ()
    assert set(index.files) == {"src/broken.ts", "src/latin1.js", "src/binary.js",
                                "src/empty.ts"}


def test_generated_and_installed_code_is_left_out(make_repo: MakeRepo) -> None:
    repo = make_repo({"src/a.ts": "export const a = 1;\n",
                      "node_modules/x/index.js": "module.exports = 1;\n",
                      "dist/a.js": "exports.a = 1;\n",
                      "src/bundle.min.js": "var a=1;" * 5000})
    index = build_index(repo, "HEAD", FactsCache(None))
    assert set(index.files) == {"src/a.ts"}
    assert dict(index.stats.excluded) == {"minified": 1}


def test_errors_say_what_and_how(tmp_path: Path, make_repo: MakeRepo) -> None:
    with pytest.raises(RepoMapError, match="git repository"):
        build_index(tmp_path, "HEAD", FactsCache(None))
    repo = make_repo({"a.ts": ""})
    with pytest.raises(RepoMapError, match="`nope` names no commit"):
        build_index(repo, "nope", FactsCache(None))
    (tmp_path / "ro").write_text("a file where the cache directory should be")
    with pytest.raises(RepoMapError, match="cannot use the repository map's cache"):
        FactsCache(tmp_path / "ro")


def test_commonjs_exports_are_symbols(make_repo: MakeRepo) -> None:
    repo = make_repo({"lib/slug.js": "exports.slugify = (t) => t.toLowerCase();\n"
                                     "function helper(a) {}\n"
                                     "module.exports = { helper };\n"})
    symbols = {s.name: s for s in build_index(repo, "HEAD", FactsCache(None))
               .files["lib/slug.js"].symbols}
    assert symbols["slugify"].signature == "exports.slugify = (t) =>"
    assert symbols["slugify"].exported
    assert symbols["helper"].exported
    assert symbols["helper"].signature == "function helper(a)"
