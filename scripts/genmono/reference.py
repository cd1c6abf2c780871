"""Python mirrors of the generated TypeScript, used to compute the expected test values.

Each function here must agree with the template it mirrors; the generated tests pin the two
together (a drift makes them fail under ``npm test``).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Sequence

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")


class LruModel:
    """Python mirror of the generated LRU cache."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.entries: OrderedDict[object, int] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: object) -> int | None:
        if key not in self.entries:
            self.misses += 1
            return None
        self.entries.move_to_end(key)
        self.hits += 1
        return self.entries[key]

    def set(self, key: object, value: int) -> None:
        if key in self.entries:
            del self.entries[key]
        elif len(self.entries) >= self.capacity:
            self.entries.popitem(last=False)
        self.entries[key] = value


def memoized_square_calls(capacity: int, keys: Sequence[int]) -> int:
    """How often ``memoize(new Cache(capacity), square)`` computes over `keys`."""
    memo = LruModel(capacity)
    calls = 0
    for number in keys:
        if memo.get(number) is None:
            calls += 1
            memo.set(number, number * number)
    return calls


def schedule_jobs(jobs: Sequence[tuple[str, int]]) -> list[str]:
    """``scheduleJobs``: descending priority, then ascending id."""
    return [j[0] for j in sorted(jobs, key=lambda j: (-j[1], j[0]))]


def kahn_order(ids: Sequence[str], edges: Sequence[tuple[str, str]]) -> list[str]:
    """Python mirror of ``Graph.order()`` (edges are (from, to), inserted in order)."""
    indegree = dict.fromkeys(ids, 0)
    dependents: dict[str, list[str]] = {i: [] for i in ids}
    for source, target in edges:
        dependents[source].append(target)
        indegree[target] += 1
    ready = sorted(i for i, d in indegree.items() if d == 0)
    result = []
    while ready:
        current = ready.pop(0)
        result.append(current)
        for nxt in dependents[current]:
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                ready.append(nxt)
                ready.sort()
    return result


def plan_waves(order: Sequence[str], deps: dict[str, list[str]]) -> list[list[str]]:
    """``planWaves`` given the topological `order`."""
    depth: dict[str, int] = {}
    waves: list[list[str]] = []
    for task in order:
        level = max((depth[d] + 1 for d in deps[task]), default=0)
        depth[task] = level
        if level == len(waves):
            waves.append([])
        waves[level].append(task)
    return waves


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def count_words(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for word in re.split(r"[^a-z0-9]+", text.lower()):
        if word:
            counts[word] = counts.get(word, 0) + 1
    return counts


def top_words(counts: dict[str, int], limit: int) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


def wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        if not current:
            current = word
        elif len(current) + 1 + len(word) <= width:
            current = f"{current} {word}"
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines


def format_report(title: str, items: Sequence[str], width: int, bullet: str) -> str:
    body = []
    for item in items:
        for index, line in enumerate(wrap(item, width - len(bullet) - 1)):
            body.append(f"{bullet} {line}" if index == 0 else f"{' ' * len(bullet)} {line}")
    header = title.upper()
    return "\n".join([header, "=" * len(header), *body])


def money_format(cents: int, currency: str) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d} {currency}"


def money_subtotal(items: Sequence[tuple[str, int, int]]) -> int:
    return sum(qty * unit for _, qty, unit in items)


def money_total(items: Sequence[tuple[str, int, int]], threshold: int, discount: int) -> int:
    subtotal = money_subtotal(items)
    if subtotal < threshold:
        return subtotal
    return subtotal - (subtotal * discount) // 100


def allocate(cents: int, parts: int) -> list[int]:
    """``Amount.allocate``: shares differing by at most one cent, larger first."""
    base, rem = divmod(cents, parts)
    return [base + (1 if i < rem else 0) for i in range(parts)]


def failing_fields(
    entry: tuple[str, int | float, str], min_name: int, low: int, high: int
) -> list[str]:
    """The fields the default checks of ``validate`` reject, in reporting order."""
    name, quantity, email = entry
    failing = []
    if len(name.strip()) < min_name:
        failing.append("name")
    if not (isinstance(quantity, int) and low <= quantity <= high):
        failing.append("quantity")
    if not EMAIL_RE.match(email):
        failing.append("email")
    return failing
