"""The repository map: a symbol index of a commit (tree-sitter, cached by blob id), files ranked
for a ticket over the import graph, and the map text within a token budget."""

from harness.repomap.cache import FactsCache
from harness.repomap.index import RepoIndex, build_index
from harness.repomap.maps import RepoMap
from harness.repomap.rank import Ranker
from harness.repomap.render import render_map

__all__ = ["FactsCache", "Ranker", "RepoIndex", "RepoMap", "build_index", "render_map"]
