"""Files ranked for a ticket: lexical relevance (BM25 over path, symbol names and contents, plus
the identifiers and paths the ticket names) spread over the import graph by personalized
PageRank, so the code next to what the ticket talks about ranks too.

``Ranker`` holds what does not depend on the ticket (document frequencies, the graph as arrays)
and ranks any number of queries against one index: the Planner's map and every ``repo_map``
call of a run share it.
"""

from __future__ import annotations

import math
import posixpath
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from harness.repomap.central import centrality
from harness.repomap.index import RepoIndex, is_test
from harness.repomap.terms import path_terms, split_identifier, terms

Method = Literal["bm25", "lexical", "map"]
K1, B = 1.2, 0.75  # the usual BM25 constants, for the plain baseline
LENGTH_NORM = 0.3  # BM25's b for the map: code files are long for a reason, penalize less
PATH_WEIGHT, SYMBOL_WEIGHT = 3.0, 2.0  # a word in a file's path or symbol names counts as much
DEFINES_BOOST = 0.6  # the file defines an identifier the ticket names (on scores scaled to 1)
PATH_BOOST = 1.0  # the ticket names the file's path
TEST_FACTOR = 0.5  # tests rank below the code they test
SEEDS = 30  # files the graph walk starts from
DAMPING = 0.3  # share of rank passed along imports (the rest returns to the seeds)
BACKWARD = 0.5  # weight of an edge walked against the import (to an importer)
ITERATIONS = 30
MIN_RANKED = 10  # the map names at least this many files when the repository has them
_CODE_IDENT = re.compile(r"`([^`\s]{3,80})`|\b([A-Za-z_$][\w$]*(?:[A-Z_$][\w$]*|\(\)))")
_PATH = re.compile(r"[\w@.$-]+(?:/[\w@.$-]+)*\.(?:[cm]?[jt]sx?)\b|[\w@.$-]+(?:/[\w@.$-]+)+")


@dataclass(frozen=True)
class Query:
    words: Counter[str]
    identifiers: frozenset[str]  # code-like names, exactly as written
    paths: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Query:
        idents = set()
        for quoted, bare in _CODE_IDENT.findall(text):
            name = (quoted or bare).removesuffix("()")
            if re.fullmatch(r"[A-Za-z_$][\w$]*", name) and len(name) > 2:
                idents.add(name)
        return cls(Counter(terms(text)), frozenset(idents),
                   tuple(p.strip("./") for p in _PATH.findall(text) if "/" in p or "." in p))


class Ranker:
    def __init__(self, index: RepoIndex) -> None:
        self.index = index
        self.paths = sorted(index.files)
        self._pos = {p: i for i, p in enumerate(self.paths)}
        self._docs = [self._document(p) for p in self.paths]
        self._plain = [self._plain_document(p) for p in self.paths]
        self._df = _frequencies(self._docs)
        self._plain_df = _frequencies(self._plain)
        self._lengths = np.array([_length(d) for d in self._docs])
        self._plain_lengths = np.array([_length(d) for d in self._plain])
        self._definers: dict[str, list[int]] = {}
        for i, path in enumerate(self.paths):
            for s in index.files[path].symbols:
                if s.parent is None or s.kind == "method":
                    self._definers.setdefault(s.name, []).append(i)
        self._edges = self._edge_arrays()

    def matches(self, text: str) -> bool:
        """Whether the ticket names anything in the repository (else the map falls back to the
        central files)."""
        return bool(self._lexical(Query.parse(text)).any())

    def central(self) -> list[tuple[str, float]]:
        """Every file by its centrality in the import graph, best first."""
        scores = centrality(self.paths, self.index.imports, [is_test(p) for p in self.paths])
        order = np.argsort(-scores, kind="stable")
        return [(self.paths[i], float(scores[i])) for i in order]

    def rank(self, text: str, method: Method = "map") -> list[tuple[str, float]]:
        """Every file with a positive score, best first. The map ranks the central files when
        the ticket names nothing the repository holds."""
        query = Query.parse(text)
        if method == "bm25":
            scores = self._bm25(query.words, self._plain, self._plain_df, self._plain_lengths)
        else:
            scores = self._lexical(query)
            if method == "map" and not scores.any():
                return self.central()
            if method == "map":
                scores = self._spread(scores)
        order = np.argsort(-scores, kind="stable")
        ranked = [(self.paths[i], float(scores[i])) for i in order if scores[i] > 0]
        if method == "map" and len(ranked) < MIN_RANKED:  # a narrow ticket: pad with the core
            seen = {p for p, _ in ranked}
            floor = min((s for _, s in ranked), default=1.0)
            extra = [p for p, _ in self.central() if p not in seen][:MIN_RANKED - len(ranked)]
            ranked += [(p, floor * 0.5 ** (n + 1)) for n, p in enumerate(extra)]
        return ranked

    # -- lexical -------------------------------------------------------------------------------

    def _document(self, path: str) -> dict[str, float]:
        facts = self.index.files[path]
        doc: dict[str, float] = dict(facts.terms)
        for word in path_terms(path):
            doc[word] = doc.get(word, 0) + PATH_WEIGHT
        for s in facts.symbols:
            for word in split_identifier(s.name) or (s.name.lower(),):
                doc[word] = doc.get(word, 0) + SYMBOL_WEIGHT
        return doc

    def _plain_document(self, path: str) -> Counter[str]:
        doc: Counter[str] = Counter(self.index.files[path].terms)
        doc.update(path_terms(path))
        return doc

    def _bm25(self, words: Counter[str], docs: Sequence[Mapping[str, float]], df: Counter[str],
              lengths: np.ndarray, b: float = B) -> np.ndarray:
        n = len(docs)
        scores = np.zeros(n)
        if n == 0:
            return scores
        norm = K1 * (1 - b + b * lengths / max(float(lengths.mean()), 1.0))
        for word in words:
            f = df.get(word, 0)
            if f == 0:
                continue
            idf = math.log(1 + (n - f + 0.5) / (f + 0.5))
            tf = np.array([doc.get(word, 0.0) for doc in docs])
            scores += idf * tf * (K1 + 1) / (tf + norm)
        return scores

    def _lexical(self, query: Query) -> np.ndarray:
        scores = self._bm25(query.words, self._docs, self._df, self._lengths, LENGTH_NORM)
        top = scores.max() if len(scores) else 0.0
        if top > 0:
            scores = scores / top
        for name in query.identifiers:
            for i in self._definers.get(name, ()):
                scores[i] += DEFINES_BOOST
        for mentioned in query.paths:
            for i in self._mentioned(mentioned):
                scores[i] += PATH_BOOST
        for i, path in enumerate(self.paths):
            if scores[i] and is_test(path):
                scores[i] *= TEST_FACTOR
        return scores

    def _mentioned(self, mentioned: str) -> list[int]:
        """Files a path in the ticket names: a suffix of the path, with or without extension."""
        if mentioned in self._pos:
            return [self._pos[mentioned]]
        stem = posixpath.splitext(mentioned)[0] if "." in posixpath.basename(mentioned) else (
            mentioned)
        if "/" not in stem and "." not in mentioned:
            return []  # a bare word is not a path
        return [i for i, p in enumerate(self.paths)
                if posixpath.splitext(p)[0].endswith("/" + stem) or
                posixpath.splitext(p)[0] == stem or p.endswith("/" + mentioned)]

    # -- graph ---------------------------------------------------------------------------------

    def _edge_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        src: list[int] = []
        dst: list[int] = []
        weight: list[float] = []
        for importer, targets in self.index.imports.items():
            a = self._pos[importer]
            for target in targets:
                b = self._pos[target]
                src.append(a)
                dst.append(b)
                weight.append(1.0)
                if BACKWARD > 0:
                    src.append(b)
                    dst.append(a)
                    weight.append(BACKWARD)
        s, d, w = np.array(src, dtype=np.int64), np.array(dst, dtype=np.int64), np.array(weight)
        out = np.bincount(s, weights=w, minlength=len(self.paths)) if len(s) else np.zeros(0)
        if len(s):
            w = w / out[s]  # each node passes its rank on in proportion to edge weight
        return s, d, w

    def _spread(self, lexical: np.ndarray) -> np.ndarray:
        """Personalized PageRank seeded by the best lexical matches; a node without edges keeps
        its rank (no teleport leak), so the result stays on the lexical scale."""
        seeds = np.zeros_like(lexical)
        best = np.argsort(-lexical, kind="stable")[:SEEDS]
        seeds[best] = lexical[best]
        total = seeds.sum()
        if total <= 0:
            return lexical
        p = seeds / total
        src, dst, w = self._edges
        has_out = np.bincount(src, minlength=len(p)) > 0 if len(src) else np.zeros(len(p), bool)
        r = p.copy()
        for _ in range(ITERATIONS):
            moved = np.bincount(dst, weights=r[src] * w, minlength=len(p)) if len(src) else 0
            r = (1 - DAMPING) * p + DAMPING * (moved + np.where(has_out, 0.0, r))
        spread: np.ndarray = r * total
        return spread


def _frequencies(docs: Sequence[Mapping[str, float]]) -> Counter[str]:
    df: Counter[str] = Counter()
    for doc in docs:
        df.update(doc.keys())
    return df


def _length(doc: Mapping[str, float]) -> float:
    return float(sum(doc.values()))
