"""One commit's map, built once and asked many times: the Planner's map for the ticket, every
``repo_map`` tool call of the run, ``harness map``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.repomap.cache import FactsCache
from harness.repomap.index import RepoIndex, build_index
from harness.repomap.rank import Ranker
from harness.repomap.render import CENTRAL_HEADER, HEADER, render_map

TOOL_BUDGET = 1_000  # a repo_map call's default budget
TOOL_MAX_BUDGET = 4_000  # about the 20,000 characters any tool result is held to


@dataclass
class RepoMap:
    index: RepoIndex
    _ranker: Ranker | None = field(default=None, repr=False)

    @classmethod
    def build(cls, repo: Path, ref: str, cache_dir: Path | None) -> RepoMap:
        """Index ``ref`` of ``repo`` from its object store. Raises RepoMapError."""
        with FactsCache(cache_dir) as cache:
            return cls(build_index(repo, ref, cache))

    @property
    def ranker(self) -> Ranker:
        if self._ranker is None:
            self._ranker = Ranker(self.index)
        return self._ranker

    def render(self, query: str, budget: int) -> str:
        """The map for ``query`` within ``budget`` tokens: the central files when the query
        names nothing the repository holds; "" only when the budget is 0 or there is no file."""
        if budget <= 0:
            return ""
        header = HEADER if self.ranker.matches(query) else CENTRAL_HEADER
        errors = self.index.stats.parse_errors
        if errors:
            header += (f"({errors} file{'s have' if errors > 1 else ' has'} syntax the parser "
                       "rejects: their symbols were recovered statement by statement and may be "
                       "incomplete.)\n")
        return render_map(self.index, self.ranker.rank(query), query, budget, header)

    def answer(self, query: str, budget: int | None) -> str:
        """What the ``repo_map`` tool returns: the map, or why there is none."""
        budget = min(max(budget or TOOL_BUDGET, 100), TOOL_MAX_BUDGET)
        text = self.render(query, budget)
        return text or "the repository has no TypeScript or JavaScript file to map"
