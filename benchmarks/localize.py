#!/usr/bin/env python3
"""Localization: does the repository map point at the files a real fix changed?

For each historical fix commit listed in benchmarks/data/localize.yaml (repository names and
commit ids only), the ticket is the commit's message, the repository is indexed at the commit's
parent, and the gold files are the non-test source files the commit modified or deleted. It
prints recall@1/@5/@10 of the gold files in three rankings measured in the same run:

  bm25     BM25 over file paths and contents alone (baseline)
  lexical  the map without the graph step: BM25 over paths, symbol names and contents, plus the
           identifiers and paths the ticket names (baseline)
  map      the map: lexical relevance spread over the import graph (personalized PageRank)

then the index's build time on the generated 100k-line monorepo (cold, and incremental after a
commit that changes 10 files) and the maps' size in tokens. Goals: map recall@5 >= 0.6 and above
both baselines; cold < 5 s, incremental < 0.5 s; every map within its budget.

The sources are read from local git repositories (bare ones work: nothing is checked out):

    python benchmarks/localize.py --mirrors DIR          # DIR/<owner>+<name>/repo, as fetched
    python benchmarks/localize.py --repo owner/name=PATH ...
    python benchmarks/localize.py select --repo owner/name=PATH [--count 8]   # new entries
    python benchmarks/localize.py --mirrors DIR --sets heldout-tune,heldout-check \
        --no-fixture --cold typeorm/typeorm   # some sets only; a real repository's cold index

The held-out sets (heldout-tune, heldout-check) hold repositories the ranking was not built on;
their split was written into the yaml before any was measured (see its comment).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML

from harness.repomap import FactsCache, Ranker, build_index, render_map
from harness.repomap.extract import language_of
from harness.repomap.index import is_test
from harness.repomap.terms import estimate_tokens

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data" / "localize.yaml"
METHODS = ("bm25", "lexical", "map")
KS = (1, 5, 10)
MAX_GOLD = 3  # selection: fixes touching at most this many non-test source files
NAMED: list[int] = []  # files each map names
EMPTY: list[bool] = []  # tickets that name nothing (the map falls back to the central files)
_TRAILER = re.compile(r"^[\w-]+-by: .*$|^Signed-off-by: .*$", re.M | re.I)


@dataclass(frozen=True)
class Case:
    repo: str
    commit: str
    ticket: str
    gold: tuple[str, ...]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout


def changed(repo: Path, commit: str) -> list[tuple[str, str]]:
    out = git(repo, "diff-tree", "--no-commit-id", "-r", "--no-renames", "--name-status",
              f"{commit}^", commit)
    return [(line[0], line.split("\t", 1)[1]) for line in out.splitlines() if "\t" in line]


def gold_files(repo: Path, commit: str) -> tuple[str, ...] | None:
    """The non-test files the fix modified or deleted; None when the commit does not qualify
    (a non-test change outside TS/JS sources, or more than MAX_GOLD files)."""
    rows = [(status, path) for status, path in changed(repo, commit) if not is_test(path)]
    if not rows or len(rows) > MAX_GOLD or any(language_of(p) is None for _, p in rows):
        return None
    gold = tuple(p for status, p in rows if status in "MD")
    return gold or None


def case(name: str, repo: Path, commit: str) -> Case:
    message = _TRAILER.sub("", git(repo, "log", "-1", "--format=%B", commit)).strip()
    gold = gold_files(repo, commit)
    if gold is None:
        raise SystemExit(f"{name} {commit}: no longer qualifies (see gold_files)")
    return Case(name, commit, message, gold)


def recall(ranked: list[str], gold: tuple[str, ...], k: int) -> float:
    return len(set(ranked[:k]) & set(gold)) / len(gold)


Scores = dict[str, dict[int, list[float]]]  # method -> k -> recall per case


def run_cases(repos: dict[str, Path], entries: dict[str, list[str]], cache: FactsCache,
              budget: int, sizes: list[int]) -> Scores:
    scores: Scores = {m: {k: [] for k in KS} for m in METHODS}
    for name, commits in entries.items():
        for commit in commits:
            c = case(name, repos[name], commit)
            index = build_index(repos[name], f"{commit}^", cache)
            ranker = Ranker(index)
            for method in METHODS:
                ranked = ranker.rank(c.ticket, method)
                for k in KS:
                    scores[method][k].append(recall([p for p, _ in ranked], c.gold, k))
                if method == "map":
                    text = render_map(index, ranked, c.ticket, budget)
                    sizes.append(estimate_tokens(text))
                    NAMED.append(sum(line.rstrip() in index.files for line in text.splitlines()))
                    EMPTY.append(not ranker.matches(c.ticket))
            print(f"  {name} {commit[:10]} gold={len(c.gold)} "
                  f"map@5={scores['map'][5][-1]:.2f}  {c.ticket.splitlines()[0][:70]}",
                  file=sys.stderr)
    return scores


def print_scores(title: str, scores: Scores) -> None:
    n = len(scores["map"][1])
    print(f"\n{title} ({n} fix commits)")
    print(f"{'ranking':<10}" + "".join(f"{f'recall@{k}':>12}" for k in KS))
    for method in METHODS:
        print(f"{method:<10}" + "".join(f"{statistics.mean(scores[method][k]):>12.3f}"
                                        for k in KS))


def fixture_times(lines: int) -> dict[str, float]:
    """Cold and incremental index builds of the generated monorepo, each from a cache on disk
    opened anew (as a new run would), median of three."""
    with tempfile.TemporaryDirectory(prefix="localize-fixture-") as tmp:
        repo = Path(tmp) / "mono"
        subprocess.run([sys.executable, str(ROOT / "scripts" / "gen-monorepo.py"), "--out",
                        str(repo), "--lines", str(lines), "--packages", "24", "--seed", "7",
                        "--git"], check=True, capture_output=True)
        cold, cold_cpu = [], []
        for i in range(3):
            with FactsCache(Path(tmp) / f"cache-{i}") as cache, cpu_seconds() as spent:
                cold.append(build_index(repo, "HEAD", cache))
            cold_cpu.append(spent[0])
        sources = sorted(p for p in cold[0].files if not is_test(p))[::40][:10]
        for path in sources:
            with (repo / path).open("a") as f:
                f.write("\nexport function addedByBenchmark(): number {\n  return 1;\n}\n")
        env = ["-c", "user.name=bench", "-c", "user.email=bench@localhost"]
        subprocess.run(["git", "-C", str(repo), *env, "commit", "-qam", "ten files"],
                       check=True)
        incremental, incremental_cpu = [], []  # each from a cache of the commit before only
        for i in range(3):
            with FactsCache(Path(tmp) / f"cache-{i}") as cache, cpu_seconds() as spent:
                incremental.append(build_index(repo, "HEAD", cache))
            incremental_cpu.append(spent[0])
        ranker_started = time.perf_counter()
        ranker = Ranker(incremental[-1])
        ranker_s = time.perf_counter() - ranker_started
        ticket = "Refunds must keep the original currency when the account cache is evicted"
        started = time.perf_counter()
        text = render_map(incremental[-1], ranker.rank(ticket), ticket, 2000)
        rank_s = time.perf_counter() - started
        return {"lines": cold[0].lines, "files": len(cold[0].files),
                "cold_s": statistics.median(b.stats.seconds for b in cold),
                "incremental_s": statistics.median(b.stats.seconds for b in incremental),
                "cold_cpu_s": statistics.median(cold_cpu),
                "incremental_cpu_s": statistics.median(incremental_cpu),
                "reparsed": incremental[0].stats.parsed, "ranker_s": ranker_s,
                "rank_s": rank_s, "map_tokens": estimate_tokens(text)}


def cold_time(name: str, repo: Path) -> str:
    """A cold index of the repository's newest commit, from an empty cache on disk."""
    with tempfile.TemporaryDirectory(prefix="localize-cold-") as tmp, \
            FactsCache(Path(tmp)) as cache, cpu_seconds() as spent:
        index = build_index(repo, "HEAD", cache)
    return (f"{name}: cold index of {index.lines} lines in {len(index.files)} files "
            f"{index.stats.seconds:.2f} s wall ({spent[0]:.2f} s CPU)")


@contextmanager
def cpu_seconds() -> Iterator[list[float]]:
    """CPU seconds of this process and its children (git) over the block: unlike wall time,
    not inflated by other work on the machine."""
    def now() -> float:
        me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
            resource.RUSAGE_CHILDREN)
        return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    spent = [0.0]
    start = now()
    yield spent
    spent[0] = now() - start


def load_sets(path: Path) -> dict[str, dict[str, list[str]]]:
    """Set name (tune, check) -> repository -> commit ids."""
    data = YAML(typ="safe").load(path.read_text())
    return {name: {r["name"]: [str(c) for c in r["commits"]] for r in repos}
            for name, repos in data.items()}


def locate(names: list[str], mirrors: Path | None, given: list[str]) -> dict[str, Path]:
    paths = dict(g.split("=", 1) for g in given)
    repos: dict[str, Path] = {}
    for name in names:
        if name in paths:
            repos[name] = Path(paths[name])
            continue
        found = None
        if mirrors is not None:
            owner_name = name.replace("/", "+")
            found = next((p for p in (mirrors / owner_name / "repo", mirrors / owner_name,
                                      mirrors / name) if p.exists()), None)
        if found is None:
            raise SystemExit(f"no local clone of {name}: pass --repo {name}=PATH or --mirrors "
                             "DIR holding <owner>+<name>/repo")
        repos[name] = found
    return repos


def select(repo: Path, count: int, skip: int = 0) -> list[str]:
    """The newest first-parent fix commits (subject starting with "fix") that qualify, after
    the ``skip`` newest."""
    found: list[str] = []
    log = git(repo, "log", "--first-parent", "--no-merges", "--format=%H %s", "-n", "5000")
    for line in log.splitlines():
        commit, _, subject = line.partition(" ")
        if re.match(r"(?i)fix\b", subject) and gold_files(repo, commit):
            found.append(commit)
            if len(found) == skip + count:
                break
    return found[skip:]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["select"]:
        p = argparse.ArgumentParser(prog="localize.py select")
        p.add_argument("--repo", action="append", required=True, help="owner/name=PATH")
        p.add_argument("--count", type=int, default=8)
        p.add_argument("--skip", type=int, default=0, help="pass over the newest N")
        a = p.parse_args(args[1:])
        for spec in a.repo:
            name, _, path = spec.partition("=")
            print(f"  - name: {name}\n    commits:")
            for commit in select(Path(path), a.count, a.skip):
                print(f"      - {commit}")
        return 0
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mirrors", type=Path, help="directory of fetched repositories")
    p.add_argument("--repo", action="append", default=[], help="owner/name=PATH")
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--tokens", type=int, default=2000, help="map budget")
    p.add_argument("--lines", type=int, default=100_000, help="fixture size")
    p.add_argument("--sets", help="comma-separated sets to run (default: all)")
    p.add_argument("--no-fixture", action="store_true", help="skip the generated monorepo")
    p.add_argument("--cold", action="append", default=[], metavar="OWNER/NAME",
                   help="also time a cold index of this repository's newest commit")
    a = p.parse_args(args)
    sets = load_sets(a.data)
    if a.sets:
        sets = {k: v for k, v in sets.items() if k in a.sets.split(",")}
    names = list(dict.fromkeys(n for entries in sets.values() for n in entries))
    repos = locate(list(dict.fromkeys(names + a.cold)), a.mirrors, a.repo)
    sizes: list[int] = []
    results: dict[str, Scores] = {}
    with tempfile.TemporaryDirectory(prefix="localize-cache-") as tmp, \
            FactsCache(Path(tmp)) as cache:
        for set_name, entries in sets.items():
            results[set_name] = run_cases(repos, entries, cache, a.tokens, sizes)
    print(f"\nrepositories: {', '.join(names)}")
    for set_name, scores in results.items():
        print_scores(f"{set_name} set", scores)
    combined: Scores = {m: {k: [v for s in results.values() for v in s[m][k]] for k in KS}
                        for m in METHODS}
    print_scores("all", combined)
    print(f"\nmap size: max {max(sizes)} tokens, mean {statistics.mean(sizes):.0f} "
          f"(budget {a.tokens}); files named: min {min(NAMED)}, mean "
          f"{statistics.mean(NAMED):.1f}; {sum(EMPTY)} tickets named nothing (central files)")
    for name in a.cold:
        print(cold_time(name, repos[name]))
    if a.no_fixture:
        return 0
    fx = fixture_times(a.lines)
    print(f"\nfixture: {fx['lines']} lines in {fx['files']} files")
    print(f"index cold {fx['cold_s']:.2f} s wall ({fx['cold_cpu_s']:.2f} s CPU), incremental "
          f"{fx['incremental_s']:.2f} s wall ({fx['incremental_cpu_s']:.2f} s CPU, "
          f"{fx['reparsed']} files re-parsed); ranker {fx['ranker_s']:.2f} s, one map "
          f"{fx['rank_s']:.2f} s, {fx['map_tokens']} tokens")
    print("load average during the run: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
