#!/usr/bin/env python3
"""Generate a deterministic TypeScript monorepo (npm workspaces + project references).

    gen-monorepo.py --out DIR --lines N --packages K --seed S [--lockfile] [--git] [--force]

The tree is a pure function of (lines, packages, seed): the same arguments give byte-identical
files. Only package-lock.json (``--lockfile``, written by ``npm install --package-lock-only``)
comes from the registry. Each package ``packages/pkg-XX`` holds ``src/<module>.ts`` files built
from a handful of realistic templates (stores, caches, heaps, state machines, graphs, text and
money helpers, validators, typed event emitters) plus small integer "rule" functions that call
rules of lower-numbered packages, so the workspace graph is acyclic. Every module has a
``src/<module>.test.ts`` (node:test + node:assert) whose expected values are computed here by a
Python mirror of the generated code, so the tests pass and a change to a rule makes the tests of
its package and of every package that calls it fail.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from random import Random

TYPESCRIPT_VERSION = "5.9.3"  # last 5.x release; its engines field is node >=14.17
TYPES_NODE_VERSION = "18.19.130"  # typings for the oldest runtime the repo supports (node 18)
SCOPE = "@mono"
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "gen-monorepo",
    "GIT_AUTHOR_EMAIL": "gen-monorepo@example.invalid",
    "GIT_AUTHOR_DATE": "2024-01-01T00:00:00+00:00",
    "GIT_COMMITTER_NAME": "gen-monorepo",
    "GIT_COMMITTER_EMAIL": "gen-monorepo@example.invalid",
    "GIT_COMMITTER_DATE": "2024-01-01T00:00:00+00:00",
}

# fmt: off
NOUNS = [
    "account", "audit", "basket", "batch", "billing", "budget", "cargo", "carrier", "catalog",
    "channel", "claim", "coupon", "credit", "customer", "delivery", "device", "dispatch",
    "document", "forecast", "freight", "grant", "invoice", "journal", "lease", "ledger",
    "license", "manifest", "meter", "order", "parcel", "partner", "payment", "payroll",
    "permit", "policy", "portfolio", "premium", "quota", "rebate", "receipt", "refund",
    "region", "rental", "report", "reservation", "route", "sensor", "session", "shift",
    "shipment", "signal", "stock", "subscription", "supplier", "survey", "tariff", "task",
    "tenant", "ticket", "timesheet", "token", "transfer", "vehicle", "vendor", "voucher",
    "warehouse", "workflow",
]
QUALIFIERS = [
    "annual", "archived", "backup", "daily", "draft", "external", "global", "inbound",
    "internal", "legacy", "local", "monthly", "outbound", "partner", "pending", "primary",
    "priority", "regional", "remote", "seasonal", "shared", "staged", "trial", "weekly",
]
PLACES = [
    "North", "South", "East", "West", "Harbor", "Hill", "River", "Lake", "Park", "Central",
    "Upper", "Lower",
]
LABELS = [
    "Lane", "Depot", "Yard", "Point", "Gate", "Works", "Market", "Square", "Field", "Bridge",
]
TAGS = [
    "bulk", "cold", "fragile", "express", "local", "urgent", "review", "insured", "export",
    "seasonal",
]
VOCAB = [
    "quarterly", "report", "north", "region", "pipeline", "draft", "budget", "forecast",
    "summary", "review", "team", "data", "export", "import", "delta", "account", "sales",
    "growth", "target", "metric", "weekly", "update", "status", "risk",
]
TASK_WORDS = [
    "fetch", "parse", "validate", "enrich", "index", "render", "publish", "notify", "archive",
    "compress", "upload", "verify",
]
# fmt: on
PEOPLE = ["Al", "Bea", "Chen Li", "Dora", "Emeka Obi", "Fay", "  Gus  ", "Hana Sato", "Ivo"]
EMAILS = [
    "ops@example.org",
    "team.lead@example.com",
    "billing@corp.io",
    "no-at-sign.example.org",
    "two@@example.org",
    "x@y",
    "first.last@mail.example.net",
]
WORKFLOWS = (
    (
        ("draft", "review", "approved", "rejected", "archived"),
        ("submit", "approve", "reject", "reopen", "archive"),
    ),
    (
        ("idle", "running", "paused", "failed", "done"),
        ("start", "pause", "resume", "fail", "finish", "reset"),
    ),
    (
        ("pending", "packed", "shipped", "delivered", "returned"),
        ("pack", "ship", "deliver", "giveBack", "restock"),
    ),
    (
        ("open", "assigned", "blocked", "resolved", "closed"),
        ("assign", "block", "unblock", "resolve", "close", "reopen"),
    ),
)
# fmt: off
RULE_VERBS = [
    "Checksum", "Score", "Weight", "Priority", "Offset", "Factor", "Rank", "Level", "Digest",
    "Spread", "Bias",
]
# fmt: on


# --------------------------------------------------------------------------- helpers


def render(template: str, values: dict[str, str]) -> str:
    """Replace ``%KEY%`` placeholders; an unknown key is a bug in this script."""
    return re.sub(r"%([A-Z][A-Z0-9_]*)%", lambda m: values[m.group(1)], template)


def q(text: str) -> str:
    """A TypeScript string literal (JSON strings are valid TS literals for ASCII text)."""
    return json.dumps(text)


def ts_list(items: Sequence[object]) -> str:
    return "[" + ", ".join(q(i) if isinstance(i, str) else str(i) for i in items) + "]"


def indent(lines: Sequence[str], depth: int) -> str:
    pad = "  " * depth
    return "\n".join(pad + line if line else line for line in lines)


def js_sorted(items: Sequence[str]) -> list[str]:
    """Array.prototype.sort() order; equals Python's for the ASCII strings used here."""
    return sorted(items)


@dataclass(frozen=True)
class Names:
    topic: str  # kebab-case, globally unique, e.g. "daily-invoice"
    stem: str  # module file name without extension, e.g. "daily-invoice-store"

    @property
    def words(self) -> str:
        return self.topic.replace("-", " ")

    @property
    def pascal(self) -> str:
        return "".join(part[:1].upper() + part[1:] for part in self.topic.split("-"))

    @property
    def camel(self) -> str:
        return self.pascal[:1].lower() + self.pascal[1:]

    @property
    def upper(self) -> str:
        return self.topic.replace("-", "_").upper()

    @property
    def abbr(self) -> str:
        return "".join(part[:1] for part in self.topic.split("-") if part[:1].isalpha())

    def values(self) -> dict[str, str]:
        return {
            "P": self.pascal,
            "C": self.camel,
            "U": self.upper,
            "T": self.words,
            "STEM": self.stem,
        }


@dataclass
class Core:
    """The template part of a module: source, test body and what the test imports."""

    source: str
    test: str
    exports: list[str]  # runtime (value) exports, checked by the package's index test
    test_imports: list[str]  # names the test file imports from the module (may use `type X`)


@dataclass
class Rule:
    name: str
    package: int
    stem: str
    fn: Callable[[int], int]


@dataclass
class Module:
    stem: str
    source: str
    test: str
    exports: list[str]
    rules: list[Rule]
    imported_packages: set[int]

    @property
    def lines(self) -> int:
        return count_lines(self.source) + count_lines(self.test)


def count_lines(text: str) -> int:
    return text.count("\n")


# --------------------------------------------------------------------------- templates

STORE_SRC = """\
/** A single %T% record tracked by {@link %P%Store}. */
export interface %P%Record {
  readonly id: string;
  readonly label: string;
  readonly weight: number;
  readonly tags: readonly string[];
}

/** Aggregate view over a set of %T% records. */
export interface %P%Summary {
  readonly count: number;
  readonly totalWeight: number;
  readonly heaviest: string | undefined;
  readonly tags: string[];
}

/** In-memory keyed store for %T% records with duplicate detection. */
export class %P%Store<T extends { readonly id: string }> {
  private readonly items = new Map<string, T>();

  add(item: T): void {
    if (this.items.has(item.id)) {
      throw new Error(`duplicate %T% id: ${item.id}`);
    }
    this.items.set(item.id, item);
  }

  get(id: string): T | undefined {
    return this.items.get(id);
  }

  remove(id: string): boolean {
    return this.items.delete(id);
  }

  filter(predicate: (item: T) => boolean): T[] {
    return [...this.items.values()].filter(predicate);
  }

  get size(): number {
    return this.items.size;
  }
}

/** Totals the weights, finds the first heaviest record and collects the distinct tags. */
export function summarize%P%Records(records: readonly %P%Record[]): %P%Summary {
  let totalWeight = 0;
  let heaviest: %P%Record | undefined;
  const tags = new Set<string>();
  for (const record of records) {
    totalWeight += record.weight;
    if (heaviest === undefined || record.weight > heaviest.weight) {
      heaviest = record;
    }
    for (const tag of record.tags) {
      tags.add(tag);
    }
  }
  return {
    count: records.length,
    totalWeight,
    heaviest: heaviest?.id,
    tags: [...tags].sort(),
  };
}
"""

STORE_TEST = """\
const records: %P%Record[] = [
%RECORDS%
];

describe("%P%Store", () => {
  it("adds, reads and removes records", () => {
    const store = new %P%Store<%P%Record>();
    for (const record of records) {
      store.add(record);
    }
    assert.strictEqual(store.size, %N%);
    assert.strictEqual(store.get(%PROBE%)?.weight, %PROBE_WEIGHT%);
    assert.strictEqual(store.remove(%PROBE%), true);
    assert.strictEqual(store.remove(%PROBE%), false);
    assert.strictEqual(store.get(%PROBE%), undefined);
    assert.strictEqual(store.size, %N_MINUS_ONE%);
  });

  it("rejects duplicate ids", () => {
    const store = new %P%Store<%P%Record>();
    store.add(records[0]);
    assert.throws(() => store.add(records[0]), /duplicate %T% id/);
  });

  it("filters by predicate in insertion order", () => {
    const store = new %P%Store<%P%Record>();
    records.forEach((record) => store.add(record));
    const heavy = store.filter((record) => record.weight >= %THRESHOLD%).map((record) => record.id);
    assert.deepStrictEqual(heavy, %HEAVY%);
  });
});

describe("summarize%P%Records", () => {
  it("aggregates weights and tags", () => {
    assert.deepStrictEqual(summarize%P%Records(records), {
      count: %N%,
      totalWeight: %TOTAL%,
      heaviest: %HEAVIEST%,
      tags: %TAGS%,
    });
  });

  it("handles an empty list", () => {
    assert.deepStrictEqual(summarize%P%Records([]), {
      count: 0,
      totalWeight: 0,
      heaviest: undefined,
      tags: [],
    });
  });
});
"""


def core_store(rng: Random, names: Names) -> Core:
    n = rng.randint(4, 7)
    records = []
    for number in rng.sample(range(100, 1000), n):
        label = f"{rng.choice(PLACES)} {rng.choice(LABELS)}"
        tags = rng.sample(TAGS, rng.randint(1, 3))
        records.append((f"{names.abbr}-{number}", label, rng.randint(1, 500), tags))
    weights = [r[2] for r in records]
    threshold = sorted(weights)[n // 2]
    heaviest = next(r[0] for r in records if r[2] == max(weights))
    probe = rng.choice(records)
    values = names.values() | {
        "RECORDS": indent(
            [
                f"{{ id: {q(r[0])}, label: {q(r[1])}, weight: {r[2]}, tags: {ts_list(r[3])} }},"
                for r in records
            ],
            1,
        ),
        "N": str(n),
        "N_MINUS_ONE": str(n - 1),
        "PROBE": q(probe[0]),
        "PROBE_WEIGHT": str(probe[2]),
        "THRESHOLD": str(threshold),
        "HEAVY": ts_list([r[0] for r in records if r[2] >= threshold]),
        "TOTAL": str(sum(weights)),
        "HEAVIEST": q(heaviest),
        "TAGS": ts_list(js_sorted(sorted({t for r in records for t in r[3]}))),
    }
    p = names.pascal
    return Core(
        render(STORE_SRC, values),
        render(STORE_TEST, values),
        [f"{p}Store", f"summarize{p}Records"],
        [f"{p}Store", f"summarize{p}Records", f"type {p}Record"],
    )


CACHE_SRC = """\
/** Hit/miss counters reported by {@link %P%Cache}. */
export interface %P%CacheStats {
  readonly hits: number;
  readonly misses: number;
  readonly size: number;
}

/** Least-recently-used cache for %T% lookups. */
export class %P%Cache<K, V> {
  private readonly entries = new Map<K, V>();
  private hits = 0;
  private misses = 0;

  constructor(private readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    }
  }

  get(key: K): V | undefined {
    if (!this.entries.has(key)) {
      this.misses += 1;
      return undefined;
    }
    const value = this.entries.get(key) as V;
    this.entries.delete(key);
    this.entries.set(key, value);
    this.hits += 1;
    return value;
  }

  set(key: K, value: V): void {
    if (this.entries.has(key)) {
      this.entries.delete(key);
    } else if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) {
        this.entries.delete(oldest.value);
      }
    }
    this.entries.set(key, value);
  }

  keys(): K[] {
    return [...this.entries.keys()];
  }

  stats(): %P%CacheStats {
    return { hits: this.hits, misses: this.misses, size: this.entries.size };
  }
}

/** Wraps `compute` so that repeated keys are served from `cache`. */
export function memoize%P%<K, V>(cache: %P%Cache<K, V>, compute: (key: K) => V): (key: K) => V {
  return (key: K): V => {
    const cached = cache.get(key);
    if (cached !== undefined) {
      return cached;
    }
    const value = compute(key);
    cache.set(key, value);
    return value;
  };
}
"""

CACHE_TEST = """\
describe("%P%Cache", () => {
  it("evicts the least recently used entry", () => {
    const cache = new %P%Cache<string, number>(%CAPACITY%);
%OPS%
    assert.deepStrictEqual(cache.keys(), %KEYS%);
    assert.deepStrictEqual(cache.stats(), { hits: %HITS%, misses: %MISSES%, size: %SIZE% });
  });

  it("rejects a non-positive capacity", () => {
    assert.throws(() => new %P%Cache<string, number>(0), RangeError);
  });
});

describe("memoize%P%", () => {
  it("computes each cached key once", () => {
    let calls = 0;
    const square = memoize%P%(new %P%Cache<number, number>(%MEMO_CAPACITY%), (key: number) => {
      calls += 1;
      return key * key;
    });
    const results = %MEMO_KEYS%.map((key) => square(key));
    assert.deepStrictEqual(results, %MEMO_RESULTS%);
    assert.strictEqual(calls, %MEMO_CALLS%);
  });
});
"""


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


def core_cache(rng: Random, names: Names) -> Core:
    capacity = rng.randint(2, 4)
    keys = ["alpha", "beta", "gamma", "delta", "omega"][: rng.randint(3, 5)]
    model = LruModel(capacity)
    ops = []
    for _ in range(rng.randint(7, 11)):
        key = rng.choice(keys)
        if rng.random() < 0.55:
            value = rng.randint(1, 99)
            model.set(key, value)
            ops.append(f"cache.set({q(key)}, {value});")
        else:
            got = model.get(key)
            expected = "undefined" if got is None else str(got)
            ops.append(f"assert.strictEqual(cache.get({q(key)}), {expected});")
    memo_capacity = rng.randint(2, 3)
    memo = LruModel(memo_capacity)
    memo_keys = [rng.randint(1, 6) for _ in range(rng.randint(5, 8))]
    calls = 0
    for number in memo_keys:
        if memo.get(number) is None:
            calls += 1
            memo.set(number, number * number)
    values = names.values() | {
        "CAPACITY": str(capacity),
        "OPS": indent(ops, 2),
        "KEYS": ts_list([str(k) for k in model.entries]),
        "HITS": str(model.hits),
        "MISSES": str(model.misses),
        "SIZE": str(len(model.entries)),
        "MEMO_CAPACITY": str(memo_capacity),
        "MEMO_KEYS": ts_list(memo_keys),
        "MEMO_RESULTS": ts_list([k * k for k in memo_keys]),
        "MEMO_CALLS": str(calls),
    }
    p = names.pascal
    return Core(
        render(CACHE_SRC, values),
        render(CACHE_TEST, values),
        [f"{p}Cache", f"memoize{p}"],
        [f"{p}Cache", f"memoize{p}"],
    )


QUEUE_SRC = """\
/** A unit of %T% work ordered by priority. */
export interface %P%Job {
  readonly id: string;
  readonly priority: number;
}

/** Binary heap ordered by a caller-supplied comparator (smallest first). */
export class %P%Queue<T> {
  private readonly heap: T[] = [];

  constructor(private readonly compare: (a: T, b: T) => number) {}

  get size(): number {
    return this.heap.length;
  }

  peek(): T | undefined {
    return this.heap[0];
  }

  push(value: T): void {
    this.heap.push(value);
    this.siftUp(this.heap.length - 1);
  }

  pop(): T | undefined {
    if (this.heap.length === 0) {
      return undefined;
    }
    const top = this.heap[0];
    const last = this.heap.pop() as T;
    if (this.heap.length > 0) {
      this.heap[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  private siftUp(start: number): void {
    let index = start;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (this.compare(this.heap[index], this.heap[parent]) >= 0) {
        return;
      }
      this.swap(index, parent);
      index = parent;
    }
  }

  private siftDown(start: number): void {
    let index = start;
    const length = this.heap.length;
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let best = index;
      if (left < length && this.compare(this.heap[left], this.heap[best]) < 0) {
        best = left;
      }
      if (right < length && this.compare(this.heap[right], this.heap[best]) < 0) {
        best = right;
      }
      if (best === index) {
        return;
      }
      this.swap(index, best);
      index = best;
    }
  }

  private swap(i: number, j: number): void {
    const held = this.heap[i];
    this.heap[i] = this.heap[j];
    this.heap[j] = held;
  }
}

/** Orders jobs by descending priority, breaking ties by ascending id. */
export function compare%P%Jobs(a: %P%Job, b: %P%Job): number {
  if (a.priority !== b.priority) {
    return b.priority - a.priority;
  }
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Runs `jobs` through a fresh queue and returns at most `limit` ids in processing order. */
export function schedule%P%Jobs(jobs: readonly %P%Job[], limit = jobs.length): string[] {
  const queue = new %P%Queue<%P%Job>(compare%P%Jobs);
  for (const job of jobs) {
    queue.push(job);
  }
  const order: string[] = [];
  while (queue.size > 0 && order.length < limit) {
    const job = queue.pop();
    if (job !== undefined) {
      order.push(job.id);
    }
  }
  return order;
}
"""

QUEUE_TEST = """\
const jobs: %P%Job[] = [
%JOBS%
];

describe("%P%Queue", () => {
  it("pops values in comparator order", () => {
    const queue = new %P%Queue<number>((a, b) => a - b);
    for (const value of %NUMBERS%) {
      queue.push(value);
    }
    assert.strictEqual(queue.peek(), %MIN%);
    const drained: number[] = [];
    for (let value = queue.pop(); value !== undefined; value = queue.pop()) {
      drained.push(value);
    }
    assert.deepStrictEqual(drained, %SORTED%);
    assert.strictEqual(queue.size, 0);
  });
});

describe("schedule%P%Jobs", () => {
  it("orders by priority, then id", () => {
    assert.deepStrictEqual(schedule%P%Jobs(jobs), %ORDER%);
  });

  it("honours the limit", () => {
    assert.deepStrictEqual(schedule%P%Jobs(jobs, 2), %ORDER_TWO%);
  });
});
"""


def core_queue(rng: Random, names: Names) -> Core:
    numbers = [rng.randint(0, 999) for _ in range(rng.randint(6, 10))]
    jobs = [
        (f"{names.abbr}-job-{n}", rng.randint(1, 5))
        for n in rng.sample(range(10, 100), rng.randint(4, 7))
    ]
    order = [j[0] for j in sorted(jobs, key=lambda j: (-j[1], j[0]))]
    values = names.values() | {
        "JOBS": indent([f"{{ id: {q(i)}, priority: {p} }}," for i, p in jobs], 1),
        "NUMBERS": ts_list(numbers),
        "MIN": str(min(numbers)),
        "SORTED": ts_list(sorted(numbers)),
        "ORDER": ts_list(order),
        "ORDER_TWO": ts_list(order[:2]),
    }
    p = names.pascal
    return Core(
        render(QUEUE_SRC, values),
        render(QUEUE_TEST, values),
        [f"{p}Queue", f"compare{p}Jobs", f"schedule{p}Jobs"],
        [f"{p}Queue", f"schedule{p}Jobs", f"type {p}Job"],
    )


FSM_SRC = """\
/** Lifecycle states of %T% items. */
export type %P%State = %STATES%;

/** Events that move %T% items through their lifecycle. */
export type %P%Event = %EVENTS%;

type %P%Table = Record<%P%State, Partial<Record<%P%Event, %P%State>>>;

const %U%_TRANSITIONS: %P%Table = {
%TABLE%
};

/** Outcome of replaying a sequence of events. */
export interface %P%Run {
  readonly state: %P%State;
  readonly visited: %P%State[];
  readonly ignored: number;
}

/** Finite-state machine guarding %T% transitions. */
export class %P%Machine {
  private current: %P%State;
  private readonly visited: %P%State[];
  private ignored = 0;

  constructor(initial: %P%State = %INITIAL%) {
    this.current = initial;
    this.visited = [initial];
  }

  get state(): %P%State {
    return this.current;
  }

  can(event: %P%Event): boolean {
    return %U%_TRANSITIONS[this.current][event] !== undefined;
  }

  send(event: %P%Event): boolean {
    const next = %U%_TRANSITIONS[this.current][event];
    if (next === undefined) {
      this.ignored += 1;
      return false;
    }
    this.current = next;
    this.visited.push(next);
    return true;
  }

  snapshot(): %P%Run {
    return { state: this.current, visited: [...this.visited], ignored: this.ignored };
  }
}

/** Replays `events` from `initial` and reports the final %T% state. */
export function replay%P%(events: readonly %P%Event[], initial?: %P%State): %P%Run {
  const machine = new %P%Machine(initial);
  for (const event of events) {
    machine.send(event);
  }
  return machine.snapshot();
}
"""

FSM_TEST = """\
describe("%P%Machine", () => {
  it("starts in the initial state", () => {
    const machine = new %P%Machine();
    assert.strictEqual(machine.state, %INITIAL%);
    assert.strictEqual(machine.can(%ALLOWED%), true);
    assert.strictEqual(machine.can(%DENIED%), false);
  });

  it("ignores events without a transition", () => {
    const machine = new %P%Machine(%OTHER%);
    assert.strictEqual(machine.send(%OTHER_DENIED%), false);
    assert.deepStrictEqual(machine.snapshot(), { state: %OTHER%, visited: [%OTHER%], ignored: 1 });
  });
});

describe("replay%P%", () => {
  it("replays an event log", () => {
    const run = replay%P%(%LOG%);
    assert.deepStrictEqual(run, {
      state: %FINAL%,
      visited: %VISITED%,
      ignored: %IGNORED%,
    });
  });
});
"""


def core_fsm(rng: Random, names: Names) -> Core:
    states, events = rng.choice(WORKFLOWS)
    table: dict[str, dict[str, str]] = {}
    for state in states:
        chosen = rng.sample(events, rng.randint(1, 3))
        table[state] = {e: rng.choice([s for s in states if s != state]) for e in chosen}
    initial = states[0]
    current, visited, ignored, log = initial, [initial], 0, []
    for _ in range(rng.randint(6, 10)):
        allowed = list(table[current])
        event = rng.choice(allowed) if rng.random() < 0.7 else rng.choice(events)
        log.append(event)
        if event in table[current]:
            current = table[current][event]
            visited.append(current)
        else:
            ignored += 1
    other = rng.choice(states[1:])
    rows = [
        f"{s}: {{ " + ", ".join(f"{e}: {q(t)}" for e, t in table[s].items()) + " }," for s in states
    ]
    values = names.values() | {
        "STATES": " | ".join(q(s) for s in states),
        "EVENTS": " | ".join(q(e) for e in events),
        "TABLE": indent(rows, 1),
        "INITIAL": q(initial),
        "ALLOWED": q(next(iter(table[initial]))),
        "DENIED": q(next(e for e in events if e not in table[initial])),
        "OTHER": q(other),
        "OTHER_DENIED": q(next(e for e in events if e not in table[other])),
        "LOG": ts_list(log),
        "FINAL": q(current),
        "VISITED": ts_list(visited),
        "IGNORED": str(ignored),
    }
    p = names.pascal
    return Core(
        render(FSM_SRC, values),
        render(FSM_TEST, values),
        [f"{p}Machine", f"replay{p}"],
        [f"{p}Machine", f"replay{p}"],
    )


GRAPH_SRC = """\
/** A %T% task and the ids of the tasks it depends on. */
export interface %P%Task {
  readonly id: string;
  readonly dependsOn: readonly string[];
}

/** Dependency graph of %T% tasks with a deterministic topological order. */
export class %P%Graph {
  private readonly dependents = new Map<string, string[]>();
  private readonly indegree = new Map<string, number>();

  static from(tasks: readonly %P%Task[]): %P%Graph {
    const graph = new %P%Graph();
    for (const task of tasks) {
      graph.addNode(task.id);
      for (const dependency of task.dependsOn) {
        graph.addEdge(dependency, task.id);
      }
    }
    return graph;
  }

  get size(): number {
    return this.indegree.size;
  }

  addNode(id: string): void {
    if (!this.indegree.has(id)) {
      this.indegree.set(id, 0);
      this.dependents.set(id, []);
    }
  }

  addEdge(from: string, to: string): void {
    this.addNode(from);
    this.addNode(to);
    this.dependents.get(from)?.push(to);
    this.indegree.set(to, (this.indegree.get(to) ?? 0) + 1);
  }

  /** Kahn's algorithm, always taking the smallest ready id; throws on a cycle. */
  order(): string[] {
    const remaining = new Map(this.indegree);
    const ready = [...remaining.entries()]
      .filter(([, count]) => count === 0)
      .map(([id]) => id)
      .sort();
    const result: string[] = [];
    while (ready.length > 0) {
      const id = ready.shift() as string;
      result.push(id);
      for (const next of this.dependents.get(id) ?? []) {
        const count = (remaining.get(next) ?? 0) - 1;
        remaining.set(next, count);
        if (count === 0) {
          ready.push(next);
          ready.sort();
        }
      }
    }
    if (result.length !== remaining.size) {
      throw new Error("%T% graph has a cycle");
    }
    return result;
  }

  hasCycle(): boolean {
    try {
      this.order();
      return false;
    } catch {
      return true;
    }
  }
}

/** Groups tasks into waves; every task runs one wave after its last dependency. */
export function plan%P%Waves(tasks: readonly %P%Task[]): string[][] {
  const byId = new Map(tasks.map((task): [string, %P%Task] => [task.id, task]));
  const depth = new Map<string, number>();
  const waves: string[][] = [];
  for (const id of %P%Graph.from(tasks).order()) {
    const dependencies = byId.get(id)?.dependsOn ?? [];
    const level = dependencies.reduce((max, dep) => Math.max(max, (depth.get(dep) ?? 0) + 1), 0);
    depth.set(id, level);
    (waves[level] ??= []).push(id);
  }
  return waves;
}
"""

GRAPH_TEST = """\
const tasks: %P%Task[] = [
%TASKS%
];

describe("%P%Graph", () => {
  it("orders tasks after their dependencies", () => {
    const graph = %P%Graph.from(tasks);
    assert.strictEqual(graph.size, %N%);
    assert.deepStrictEqual(graph.order(), %ORDER%);
    assert.strictEqual(graph.hasCycle(), false);
  });

  it("detects a cycle", () => {
    const graph = %P%Graph.from([
      { id: "a", dependsOn: ["c"] },
      { id: "b", dependsOn: ["a"] },
      { id: "c", dependsOn: ["b"] },
    ]);
    assert.strictEqual(graph.hasCycle(), true);
    assert.throws(() => graph.order(), /cycle/);
  });
});

describe("plan%P%Waves", () => {
  it("groups independent tasks", () => {
    assert.deepStrictEqual(plan%P%Waves(tasks), [
%WAVES%
    ]);
  });
});
"""


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


def core_graph(rng: Random, names: Names) -> Core:
    ids = [f"{names.abbr}-{w}" for w in rng.sample(TASK_WORDS, rng.randint(5, 7))]
    deps: dict[str, list[str]] = {}
    for position, task in enumerate(ids):
        deps[task] = rng.sample(ids[:position], min(position, rng.randint(0, 2)))
    rng.shuffle(ids)
    edges = [(d, t) for t in ids for d in deps[t]]
    # Graph.from adds each task before its edges, so node insertion order is task order
    # except for dependencies seen first as edge sources; kahn_order only needs the set.
    order = kahn_order(ids, edges)
    depth: dict[str, int] = {}
    waves: list[list[str]] = []
    for task in order:
        level = max((depth[d] + 1 for d in deps[task]), default=0)
        depth[task] = level
        if level == len(waves):
            waves.append([])
        waves[level].append(task)
    values = names.values() | {
        "TASKS": indent([f"{{ id: {q(t)}, dependsOn: {ts_list(deps[t])} }}," for t in ids], 1),
        "N": str(len(ids)),
        "ORDER": ts_list(order),
        "WAVES": indent([ts_list(w) + "," for w in waves], 3),
    }
    p = names.pascal
    return Core(
        render(GRAPH_SRC, values),
        render(GRAPH_TEST, values),
        [f"{p}Graph", f"plan{p}Waves"],
        [f"{p}Graph", f"plan{p}Waves", f"type {p}Task"],
    )


TEXT_SRC = """\
/** Layout options for {@link format%P%Report}. */
export interface %P%TextOptions {
  readonly width: number;
  readonly bullet: string;
}

/** Lower-cases `input` and joins its alphanumeric runs with dashes. */
export function slugify%P%(input: string): string {
  return input
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
}

/** Counts case-insensitive alphanumeric words. */
export function count%P%Words(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const word of text.toLowerCase().split(/[^a-z0-9]+/)) {
    if (word.length > 0) {
      counts.set(word, (counts.get(word) ?? 0) + 1);
    }
  }
  return counts;
}

/** The `limit` most frequent words, ties broken alphabetically. */
export function top%P%Words(text: string, limit: number): Array<[string, number]> {
  return [...count%P%Words(text).entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, limit);
}

/** Greedy word wrap; a word longer than `width` gets a line of its own. */
export function wrap%P%Text(text: string, width: number): string[] {
  const lines: string[] = [];
  let current = "";
  for (const word of text.split(/\\s+/).filter((part) => part.length > 0)) {
    if (current.length === 0) {
      current = word;
    } else if (current.length + 1 + word.length <= width) {
      current = `${current} ${word}`;
    } else {
      lines.push(current);
      current = word;
    }
  }
  if (current.length > 0) {
    lines.push(current);
  }
  return lines;
}

/** Renders a titled, bulleted report wrapped to `options.width` columns. */
export function format%P%Report(
  title: string,
  items: readonly string[],
  options: %P%TextOptions,
): string {
  const header = title.toUpperCase();
  const hanging = " ".repeat(options.bullet.length);
  const body = items.flatMap((item) =>
    wrap%P%Text(item, options.width - options.bullet.length - 1).map((line, index) =>
      index === 0 ? `${options.bullet} ${line}` : `${hanging} ${line}`,
    ),
  );
  return [header, "=".repeat(header.length), ...body].join("\\n");
}
"""

TEXT_TEST = """\
describe("slugify%P%", () => {
  it("normalises phrases", () => {
%SLUGS%
  });
});

describe("top%P%Words", () => {
  it("ranks words by frequency", () => {
    const text = %TEXT%;
    assert.strictEqual(count%P%Words(text).size, %DISTINCT%);
    assert.deepStrictEqual(top%P%Words(text, 3), %TOP%);
  });
});

describe("format%P%Report", () => {
  it("wraps items under the title", () => {
    assert.deepStrictEqual(wrap%P%Text(%WRAP_IN%, %WIDTH%), %WRAP_OUT%);
    const report = format%P%Report(%TITLE%, %ITEMS%, { width: %WIDTH%, bullet: %BULLET% });
    assert.strictEqual(report, %REPORT%);
  });
});
"""


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


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


def phrase(rng: Random, words: Sequence[str], count: int) -> str:
    parts = []
    for _ in range(count):
        word = rng.choice(words)
        if rng.random() < 0.3:
            word = word.capitalize()
        if rng.random() < 0.1:
            word = str(rng.randint(1, 2030))
        parts.append(word)
    out = parts[0]
    for part in parts[1:]:
        out += rng.choice([" ", " ", " ", ", ", " - ", ": ", " & ", ". "]) + part
    return out


def core_text(rng: Random, names: Names) -> Core:
    slug_cases = [phrase(rng, VOCAB, rng.randint(2, 5)) for _ in range(rng.randint(2, 4))]
    slug_cases.append(f"  {phrase(rng, VOCAB, 2)}!  ")
    small = rng.sample(VOCAB, 6)
    text = phrase(rng, small, rng.randint(12, 18))
    counts: dict[str, int] = {}
    for word in re.split(r"[^a-z0-9]+", text.lower()):
        if word:
            counts[word] = counts.get(word, 0) + 1
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    width = rng.randint(14, 26)
    bullet = rng.choice(["-", "*", "+", ">>"])
    title = phrase(rng, VOCAB, 3)
    items = [phrase(rng, VOCAB, rng.randint(3, 9)) for _ in range(rng.randint(2, 3))]
    body = []
    for item in items:
        for index, line in enumerate(wrap(item, width - len(bullet) - 1)):
            body.append(f"{bullet} {line}" if index == 0 else f"{' ' * len(bullet)} {line}")
    header = title.upper()
    report = "\n".join([header, "=" * len(header), *body])
    values = names.values() | {
        "SLUGS": indent(
            [
                f"assert.strictEqual(slugify{names.pascal}({q(s)}), {q(slugify(s))});"
                for s in slug_cases
            ],
            2,
        ),
        "TEXT": q(text),
        "DISTINCT": str(len(counts)),
        "TOP": "[" + ", ".join(f"[{q(w)}, {c}]" for w, c in top) + "]",
        "WRAP_IN": q(items[0]),
        "WIDTH": str(width),
        "WRAP_OUT": ts_list(wrap(items[0], width)),
        "TITLE": q(title),
        "ITEMS": ts_list(items),
        "BULLET": q(bullet),
        "REPORT": q(report),
    }
    p = names.pascal
    funcs = [f"slugify{p}", f"count{p}Words", f"top{p}Words", f"wrap{p}Text", f"format{p}Report"]
    return Core(render(TEXT_SRC, values), render(TEXT_TEST, values), funcs, funcs)


MONEY_SRC = """\
/** Currencies accepted for %T% amounts. */
export type %P%Currency = "EUR" | "USD" | "GBP";

/** An immutable amount of money in whole cents. */
export class %P%Amount {
  private constructor(
    readonly cents: number,
    readonly currency: %P%Currency,
  ) {}

  static of(cents: number, currency: %P%Currency): %P%Amount {
    if (!Number.isSafeInteger(cents)) {
      throw new TypeError(`amount must be whole cents, got ${cents}`);
    }
    return new %P%Amount(cents, currency);
  }

  add(other: %P%Amount): %P%Amount {
    if (other.currency !== this.currency) {
      throw new Error(`currency mismatch: ${this.currency} vs ${other.currency}`);
    }
    return new %P%Amount(this.cents + other.cents, this.currency);
  }

  percent(rate: number): %P%Amount {
    return new %P%Amount(Math.floor((this.cents * rate) / 100), this.currency);
  }

  /** Splits into `parts` shares that differ by at most one cent, larger shares first. */
  allocate(parts: number): %P%Amount[] {
    const base = Math.floor(this.cents / parts);
    let remainder = this.cents - base * parts;
    const shares: %P%Amount[] = [];
    for (let index = 0; index < parts; index++) {
      const extra = remainder > 0 ? 1 : 0;
      remainder -= extra;
      shares.push(new %P%Amount(base + extra, this.currency));
    }
    return shares;
  }

  format(): string {
    const sign = this.cents < 0 ? "-" : "";
    const absolute = Math.abs(this.cents);
    const fraction = String(absolute % 100).padStart(2, "0");
    return `${sign}${Math.floor(absolute / 100)}.${fraction} ${this.currency}`;
  }
}

/** One priced %T% line. */
export interface %P%LineItem {
  readonly sku: string;
  readonly quantity: number;
  readonly unitCents: number;
}

/** Minimum subtotal (cents) that earns the volume discount. */
export const %U%_DISCOUNT_THRESHOLD = %THRESHOLD%;

/** Sums the line items and takes %DISCOUNT%% off subtotals at or above the threshold. */
export function total%P%(items: readonly %P%LineItem[], currency: %P%Currency): %P%Amount {
  const subtotal = items.reduce(
    (sum, item) => sum.add(%P%Amount.of(item.quantity * item.unitCents, currency)),
    %P%Amount.of(0, currency),
  );
  if (subtotal.cents < %U%_DISCOUNT_THRESHOLD) {
    return subtotal;
  }
  const discount = subtotal.percent(%DISCOUNT%);
  return %P%Amount.of(subtotal.cents - discount.cents, currency);
}
"""

MONEY_TEST = """\
const items: %P%LineItem[] = [
%ITEMS%
];

describe("%P%Amount", () => {
  it("formats cents", () => {
    assert.strictEqual(%P%Amount.of(%FMT_CENTS%, %CUR%).format(), %FMT%);
    assert.strictEqual(%P%Amount.of(-%NEG_CENTS%, %CUR%).format(), %NEG_FMT%);
  });

  it("allocates without losing cents", () => {
    const shares = %P%Amount.of(%ALLOC_CENTS%, %CUR%).allocate(%PARTS%);
    assert.deepStrictEqual(
      shares.map((share) => share.cents),
      %SHARES%,
    );
  });

  it("refuses mixed currencies and fractional cents", () => {
    assert.throws(() => %P%Amount.of(1, "EUR").add(%P%Amount.of(1, "USD")), /mismatch/);
    assert.throws(() => %P%Amount.of(1.5, "GBP"), TypeError);
  });
});

describe("total%P%", () => {
  it("applies the volume discount", () => {
    assert.strictEqual(total%P%(items, %CUR%).format(), %TOTAL%);
  });

  it("keeps small orders undiscounted", () => {
    assert.strictEqual(total%P%(items.slice(0, 1), %CUR%).cents, %SMALL%);
  });
});
"""


def money_format(cents: int, currency: str) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d} {currency}"


def money_total(items: Sequence[tuple[str, int, int]], threshold: int, discount: int) -> int:
    subtotal = sum(qty * unit for _, qty, unit in items)
    if subtotal < threshold:
        return subtotal
    return subtotal - (subtotal * discount) // 100


def core_money(rng: Random, names: Names) -> Core:
    currency = rng.choice(["EUR", "USD", "GBP"])
    items = [
        (f"{names.abbr.upper()}-{rng.randint(100, 999)}", rng.randint(1, 9), rng.randint(50, 20000))
        for _ in range(rng.randint(2, 4))
    ]
    first = items[0][1] * items[0][2]
    full = sum(qty * unit for _, qty, unit in items)
    threshold = rng.randint(first + 1, max(first + 1, full))
    discount = rng.randint(3, 15)
    fmt_cents, neg_cents = rng.randint(0, 99999), rng.randint(1, 9999)
    alloc_cents, parts = rng.randint(100, 10000), rng.randint(2, 5)
    base, rem = divmod(alloc_cents, parts)
    values = names.values() | {
        "ITEMS": indent(
            [f"{{ sku: {q(s)}, quantity: {n}, unitCents: {u} }}," for s, n, u in items], 1
        ),
        "THRESHOLD": str(threshold),
        "DISCOUNT": str(discount),
        "CUR": q(currency),
        "FMT_CENTS": str(fmt_cents),
        "FMT": q(money_format(fmt_cents, currency)),
        "NEG_CENTS": str(neg_cents),
        "NEG_FMT": q(money_format(-neg_cents, currency)),
        "ALLOC_CENTS": str(alloc_cents),
        "PARTS": str(parts),
        "SHARES": ts_list([base + (1 if i < rem else 0) for i in range(parts)]),
        "TOTAL": q(money_format(money_total(items, threshold, discount), currency)),
        "SMALL": str(money_total(items[:1], threshold, discount)),
    }
    p = names.pascal
    return Core(
        render(MONEY_SRC, values),
        render(MONEY_TEST, values),
        [f"{p}Amount", f"total{p}"],
        [f"{p}Amount", f"total{p}", f"type {p}LineItem"],
    )


VALIDATE_SRC = """\
/** Raw %T% form input. */
export interface %P%Input {
  readonly name: string;
  readonly quantity: number;
  readonly email: string;
}

/** A problem found in one field of a {@link %P%Input}. */
export interface %P%Issue {
  readonly field: keyof %P%Input;
  readonly message: string;
}

/** A check returns an issue, or `undefined` when the input passes. */
export type %P%Check = (input: %P%Input) => %P%Issue | undefined;

const %U%_EMAIL = /^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$/;

/** Default checks, in reporting order. */
export const %C%Checks: readonly %P%Check[] = [
  (input) =>
    input.name.trim().length >= %MIN_NAME%
      ? undefined
      : { field: "name", message: "name needs at least %MIN_NAME% characters" },
  (input) =>
    Number.isInteger(input.quantity) && input.quantity >= %LOW% && input.quantity <= %HIGH%
      ? undefined
      : { field: "quantity", message: "quantity must be an integer in [%LOW%, %HIGH%]" },
  (input) =>
    %U%_EMAIL.test(input.email) ? undefined : { field: "email", message: "email is malformed" },
];

/** Runs every check and collects the issues. */
export function validate%P%(
  input: %P%Input,
  checks: readonly %P%Check[] = %C%Checks,
): %P%Issue[] {
  const issues: %P%Issue[] = [];
  for (const check of checks) {
    const issue = check(input);
    if (issue !== undefined) {
      issues.push(issue);
    }
  }
  return issues;
}

/** Splits inputs into those that pass every default check and those that do not. */
export function partition%P%(inputs: readonly %P%Input[]): {
  valid: %P%Input[];
  invalid: %P%Input[];
} {
  const valid: %P%Input[] = [];
  const invalid: %P%Input[] = [];
  for (const input of inputs) {
    (validate%P%(input).length === 0 ? valid : invalid).push(input);
  }
  return { valid, invalid };
}
"""

VALIDATE_TEST = """\
const inputs: %P%Input[] = [
%INPUTS%
];

const fields = (input: %P%Input): string[] => validate%P%(input).map((issue) => issue.field);

describe("validate%P%", () => {
  it("reports the failing fields in order", () => {
%CASES%
  });

  it("accepts a custom check list", () => {
    assert.deepStrictEqual(validate%P%(inputs[0], []), []);
    assert.strictEqual(%C%Checks.length, 3);
  });
});

describe("partition%P%", () => {
  it("separates valid from invalid inputs", () => {
    const { valid, invalid } = partition%P%(inputs);
    assert.deepStrictEqual(
      valid.map((input) => input.email),
      %VALID%,
    );
    assert.strictEqual(invalid.length, %INVALID%);
  });
});
"""

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")


def core_validate(rng: Random, names: Names) -> Core:
    min_name, low, high = rng.randint(3, 6), rng.randint(1, 5), rng.randint(20, 200)
    inputs: list[tuple[str, int | float, str]] = []
    for _ in range(rng.randint(4, 6)):
        quantity: int | float = rng.randint(low - 2, high + 3)
        if rng.random() < 0.15:
            quantity = quantity + 0.5
        inputs.append((rng.choice(PEOPLE), quantity, rng.choice(EMAILS)))
    issues = []
    for name, quantity, email in inputs:
        failing = []
        if len(name.strip()) < min_name:
            failing.append("name")
        if not (isinstance(quantity, int) and low <= quantity <= high):
            failing.append("quantity")
        if not EMAIL_RE.match(email):
            failing.append("email")
        issues.append(failing)
    values = names.values() | {
        "MIN_NAME": str(min_name),
        "LOW": str(low),
        "HIGH": str(high),
        "INPUTS": indent(
            [f"{{ name: {q(n)}, quantity: {v}, email: {q(e)} }}," for n, v, e in inputs], 1
        ),
        "CASES": indent(
            [
                f"assert.deepStrictEqual(fields(inputs[{i}]), {ts_list(f)});"
                for i, f in enumerate(issues)
            ],
            2,
        ),
        "VALID": ts_list([inp[2] for inp, f in zip(inputs, issues, strict=True) if not f]),
        "INVALID": str(sum(1 for f in issues if f)),
    }
    p = names.pascal
    return Core(
        render(VALIDATE_SRC, values),
        render(VALIDATE_TEST, values),
        [f"validate{p}", f"partition{p}"],
        [f"{names.camel}Checks", f"validate{p}", f"partition{p}", f"type {p}Input"],
    )


EVENTS_SRC = """\
/** Payloads of %T% events. */
export type %P%Events = {
  created: { readonly id: string; readonly amount: number };
  updated: { readonly id: string; readonly amount: number };
  closed: { readonly id: string };
};

type %P%Listener<E, K extends keyof E> = (payload: E[K]) => void;

/** A small typed event emitter. */
export class %P%Emitter<E extends Record<string, unknown>> {
  private readonly listeners = new Map<keyof E, Set<%P%Listener<E, keyof E>>>();

  /** Subscribes `listener`; the returned function unsubscribes it. */
  on<K extends keyof E>(event: K, listener: %P%Listener<E, K>): () => void {
    const registered = this.listeners.get(event) ?? new Set<%P%Listener<E, keyof E>>();
    const wrapped = listener as %P%Listener<E, keyof E>;
    registered.add(wrapped);
    this.listeners.set(event, registered);
    return () => {
      registered.delete(wrapped);
    };
  }

  /** Delivers `payload` to every listener of `event` and returns how many there were. */
  emit<K extends keyof E>(event: K, payload: E[K]): number {
    const registered = this.listeners.get(event);
    if (registered === undefined) {
      return 0;
    }
    for (const listener of [...registered]) {
      listener(payload);
    }
    return registered.size;
  }

  listenerCount(event: keyof E): number {
    return this.listeners.get(event)?.size ?? 0;
  }
}

/** Keeps the open %T% amounts up to date from an emitter. */
export class %P%Ledger {
  readonly open = new Map<string, number>();
  closedCount = 0;

  constructor(emitter: %P%Emitter<%P%Events>) {
    emitter.on("created", ({ id, amount }) => {
      this.open.set(id, amount);
    });
    emitter.on("updated", ({ id, amount }) => {
      if (this.open.has(id)) {
        this.open.set(id, amount);
      }
    });
    emitter.on("closed", ({ id }) => {
      if (this.open.delete(id)) {
        this.closedCount += 1;
      }
    });
  }

  get total(): number {
    let sum = 0;
    for (const amount of this.open.values()) {
      sum += amount;
    }
    return sum;
  }
}
"""

EVENTS_TEST = """\
describe("%P%Emitter", () => {
  it("delivers payloads until unsubscribed", () => {
    const emitter = new %P%Emitter<%P%Events>();
    const seen: string[] = [];
    const off = emitter.on("closed", ({ id }) => {
      seen.push(id);
    });
    assert.strictEqual(emitter.emit("closed", { id: %FIRST% }), 1);
    off();
    assert.strictEqual(emitter.emit("closed", { id: %SECOND% }), 0);
    assert.strictEqual(emitter.emit("created", { id: %SECOND%, amount: 1 }), 0);
    assert.deepStrictEqual(seen, [%FIRST%]);
    assert.strictEqual(emitter.listenerCount("closed"), 0);
  });
});

describe("%P%Ledger", () => {
  it("tracks open amounts", () => {
    const emitter = new %P%Emitter<%P%Events>();
    const ledger = new %P%Ledger(emitter);
%EMITS%
    assert.strictEqual(ledger.total, %TOTAL%);
    assert.strictEqual(ledger.closedCount, %CLOSED%);
    assert.deepStrictEqual([...ledger.open.keys()], %OPEN%);
  });
});
"""


def core_events(rng: Random, names: Names) -> Core:
    ids = [f"{names.abbr}-{n}" for n in rng.sample(range(1, 100), 4)]
    open_: dict[str, int] = {}
    closed = 0
    emits = []
    for _ in range(rng.randint(6, 10)):
        event, target = rng.choice(["created", "created", "updated", "closed"]), rng.choice(ids)
        if event == "closed":
            emits.append(f'emitter.emit("closed", {{ id: {q(target)} }});')
            if open_.pop(target, None) is not None:
                closed += 1
            continue
        amount = rng.randint(1, 5000)
        emits.append(f"emitter.emit({q(event)}, {{ id: {q(target)}, amount: {amount} }});")
        if event == "created" or target in open_:
            open_[target] = amount
    values = names.values() | {
        "FIRST": q(ids[0]),
        "SECOND": q(ids[1]),
        "EMITS": indent(emits, 2),
        "TOTAL": str(sum(open_.values())),
        "CLOSED": str(closed),
        "OPEN": ts_list(list(open_)),
    }
    p = names.pascal
    return Core(
        render(EVENTS_SRC, values),
        render(EVENTS_TEST, values),
        [f"{p}Emitter", f"{p}Ledger"],
        [f"{p}Emitter", f"{p}Ledger", f"type {p}Events"],
    )


CoreBuilder = Callable[[Random, Names], Core]
KINDS: dict[str, tuple[str, CoreBuilder]] = {
    "store": ("store", core_store),
    "cache": ("cache", core_cache),
    "queue": ("queue", core_queue),
    "fsm": ("workflow", core_fsm),
    "graph": ("graph", core_graph),
    "text": ("text", core_text),
    "money": ("pricing", core_money),
    "validate": ("validation", core_validate),
    "events": ("events", core_events),
}


# --------------------------------------------------------------------------- rules

RuleBody = tuple[list[str], Callable[[int], int]]


def rule_fold(rng: Random, callee: Rule | None) -> RuleBody:
    c0, rounds = rng.randint(1, 97), rng.randint(2, 6)
    mul, step = rng.choice([31, 37, 41, 43, 47, 53]), rng.randint(1, 19)
    mod = rng.choice([8191, 10007, 65521, 99991])
    div = rng.randint(2, 7)
    rem, bump = rng.randrange(div), rng.randint(1, 97)
    start = str(c0) if callee is None else f"({c0} + {callee.name}(input % 1000)) % {mod}"
    lines = [
        f"let acc = {start};",
        f"for (let round = 0; round < {rounds}; round++) {{",
        f"  acc = (acc * {mul} + input + round * {step}) % {mod};",
        f"  if (acc % {div} === {rem}) {{",
        f"    acc = (acc + {bump}) % {mod};",
        "  }",
        "}",
        "return acc;",
    ]

    def fn(x: int) -> int:
        acc = c0 if callee is None else (c0 + callee.fn(x % 1000)) % mod
        for r in range(rounds):
            acc = (acc * mul + x + r * step) % mod
            if acc % div == rem:
                acc = (acc + bump) % mod
        return acc

    return lines, fn


def rule_tier(rng: Random, callee: Rule | None) -> RuleBody:
    span = rng.choice([500, 1000, 2000])
    low = rng.randint(span // 5, span // 2)
    high = rng.randint(low + 1, span - 1)
    mul, add, mul2 = rng.randint(2, 9), rng.randint(1, 50), rng.randint(3, 13)
    mod = rng.choice([977, 1009, 4001])
    source = "input" if callee is None else f"{callee.name}(input % 1000)"
    lines = [
        f"const base = {source} % {span};",
        f"if (base < {low}) {{",
        f"  return base * {mul} + {add};",
        "}",
        f"if (base < {high}) {{",
        f"  return (base * {mul2}) % {mod};",
        "}",
        f"return base - {low};",
    ]

    def fn(x: int) -> int:
        base = (x if callee is None else callee.fn(x % 1000)) % span
        if base < low:
            return base * mul + add
        if base < high:
            return (base * mul2) % mod
        return base - low

    return lines, fn


def rule_digits(rng: Random, callee: Rule | None) -> RuleBody:
    mul, mod, start = rng.choice([7, 11, 13, 17, 19]), rng.choice([8191, 65521]), rng.randint(1, 9)
    source = "input" if callee is None else f"{callee.name}(input % 1000)"
    lines = [
        f'const digits = String({source}).split("").map(Number);',
        "return digits.reduce(",
        f"  (acc, digit, index) => (acc * {mul} + digit * (index + 1)) % {mod},",
        f"  {start},",
        ");",
    ]

    def fn(x: int) -> int:
        acc = start
        value = x if callee is None else callee.fn(x % 1000)
        for index, char in enumerate(str(value)):
            acc = (acc * mul + int(char) * (index + 1)) % mod
        return acc

    return lines, fn


def rule_switch(rng: Random, callee: Rule | None) -> RuleBody:
    add, mul, div = rng.randint(1, 99), rng.randint(2, 29), rng.randint(2, 9)
    mod = rng.choice([1009, 4093, 10007])
    third = f"{callee.name}(input % 1000)" if callee is not None else f"Math.floor(input / {div})"
    lines = [
        "switch (input % 4) {",
        "  case 0:",
        f"    return (input + {add}) % {mod};",
        "  case 1:",
        f"    return (input * {mul}) % {mod};",
        "  case 2:",
        f"    return {third};",
        "  default:",
        f"    return (input * input) % {mod};",
        "}",
    ]

    def fn(x: int) -> int:
        case = x % 4
        if case == 0:
            return (x + add) % mod
        if case == 1:
            return (x * mul) % mod
        if case == 2:
            return callee.fn(x % 1000) if callee is not None else x // div
        return (x * x) % mod

    return lines, fn


RULE_SHAPES: dict[str, Callable[[Random, Rule | None], RuleBody]] = {
    "fold": rule_fold,
    "tier": rule_tier,
    "digits": rule_digits,
    "switch": rule_switch,
}
RULE_DOCS = {
    "fold": "Mixes `input` through a few modular rounds",
    "tier": "Maps `input` onto a tiered scale",
    "digits": "Folds the decimal digits of `input`",
    "switch": "Dispatches on `input % 4`",
}


def rule_text(name: str, shape: str, body: list[str], callee: Rule | None) -> str:
    doc = RULE_DOCS[shape] + (f", seeded by {{@link {callee.name}}}" if callee else "") + "."
    return "\n".join(
        [
            f"/** {doc} */",
            f"export function {name}(input: number): number {{",
            indent(body, 1),
            "}",
            "",
        ]
    )


def rule_test(rule: Rule, rng: Random) -> str:
    # One input per residue mod 4, so every branch of a `switch` rule (and its callee) runs.
    inputs = sorted(4 * rng.randrange(1250) + residue for residue in range(4))
    checks = [f"    assert.strictEqual({rule.name}({x}), {rule.fn(x)});" for x in inputs]
    return "\n".join(
        [
            f"describe({q(rule.name)}, () => {{",
            '  it("matches the reference values", () => {',
            *checks,
            "  });",
            "",
            '  it("always returns a non-negative integer", () => {',
            f"    for (const value of {ts_list(inputs)}) {{",
            f"      const result = {rule.name}(value);",
            "      assert.ok(Number.isInteger(result) && result >= 0, String(result));",
            "    }",
            "  });",
            "});",
            "",
        ]
    )


# --------------------------------------------------------------------------- repository model


@dataclass
class PackagePlan:
    number: int
    candidates: list[int]  # lower-numbered packages this one may import from
    modules: list[Module] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{SCOPE}/{self.dir}"

    @property
    def dir(self) -> str:
        return f"pkg-{self.number:02d}"

    @property
    def deps(self) -> list[int]:
        return sorted(set().union(*(m.imported_packages for m in self.modules)))


class RepoBuilder:
    def __init__(self, lines: int, packages: int, seed: int) -> None:
        self.rng = Random(seed)
        self.lines = lines
        self.count = packages
        self.seed = seed
        self.topics: set[str] = set()
        self.rules: dict[int, list[Rule]] = {}  # accepted rules per package

    # -- names
    def new_topic(self) -> str:
        for _ in range(40):
            noun = self.rng.choice(NOUNS)
            topic = noun if self.rng.random() < 0.3 else f"{self.rng.choice(QUALIFIERS)}-{noun}"
            if topic not in self.topics:
                break
        serial = 2
        base = topic
        while topic in self.topics:
            topic, serial = f"{base}-{serial}", serial + 1
        self.topics.add(topic)
        return topic

    # -- modules
    def pick_callee(self, plan: PackagePlan, local: list[Rule], unused: set[int]) -> Rule | None:
        rng = self.rng
        if unused and rng.random() < 0.8:
            return rng.choice(self.rules[rng.choice(sorted(unused))])
        if rng.random() < 0.45:
            return None
        pool = list(local)
        for dep in plan.candidates:
            pool.extend(self.rules[dep])
        return rng.choice(pool) if pool else None

    def build_module(self, plan: PackagePlan, kind: str, unused: set[int]) -> Module:
        rng = self.rng
        suffix, builder = KINDS[kind]
        names = Names(topic := self.new_topic(), f"{topic}-{suffix}")
        core = builder(rng, names)
        local = [r for m in plan.modules for r in m.rules]
        imports: dict[str, set[str]] = {}
        imported: set[int] = set()
        rules: list[Rule] = []
        parts: list[str] = []
        for verb in rng.sample(RULE_VERBS, rng.randint(1, 3)):
            callee = self.pick_callee(plan, local + rules, unused - imported)
            if callee is not None and callee.stem != names.stem:
                if callee.package == plan.number:
                    imports.setdefault(f"./{callee.stem}", set()).add(callee.name)
                else:
                    imports.setdefault(f"{SCOPE}/pkg-{callee.package:02d}", set()).add(callee.name)
                    imported.add(callee.package)
            shape = rng.choice(sorted(RULE_SHAPES))
            body, fn = RULE_SHAPES[shape](rng, callee)
            rule = Rule(f"{names.camel}{verb}", plan.number, names.stem, fn)
            parts.append(rule_text(rule.name, shape, body, callee))
            rules.append(rule)
        source = module_source(plan, names, kind, imports=imports, core=core.source, rules=parts)
        tests = [rule_test(r, rng) for r in rules]
        test = test_source(names, core.test_imports + [r.name for r in rules], core.test, tests)
        return Module(
            names.stem, source, test, core.exports + [r.name for r in rules], rules, imported
        )

    def package_lines(self, plan: PackagePlan, extra: Module | None = None) -> int:
        modules = plan.modules + ([extra] if extra else [])
        return sum(m.lines for m in modules) + index_lines(modules)

    def build_package(self, plan: PackagePlan, target_end: int, done: int) -> None:
        kinds = sorted(KINDS)
        self.rng.shuffle(kinds)
        unused = set(plan.candidates)
        while True:
            kind = kinds[len(plan.modules) % len(kinds)]
            module = self.build_module(plan, kind, unused)
            now = done + self.package_lines(plan)
            after = done + self.package_lines(plan, module)
            if plan.modules and abs(after - target_end) >= abs(now - target_end):
                return
            plan.modules.append(module)
            unused -= module.imported_packages
            self.rules.setdefault(plan.number, []).extend(module.rules)

    def build(self) -> dict[str, str]:
        weights = [self.rng.uniform(0.75, 1.25) for _ in range(self.count)]
        plans: list[PackagePlan] = []
        done, cumulative = 0, 0.0
        for number in range(1, self.count + 1):
            lower = list(range(1, number))
            candidates = sorted(self.rng.sample(lower, min(len(lower), self.rng.randint(1, 3))))
            plan = PackagePlan(number, candidates)
            cumulative += weights[number - 1]
            self.build_package(plan, round(self.lines * cumulative / sum(weights)), done)
            done += self.package_lines(plan)
            plans.append(plan)
        return repo_files(plans, self.seed)


KIND_BLURB = {
    "store": "keyed in-memory storage and summaries of {t} records.",
    "cache": "an LRU cache and memoisation helper for {t} lookups.",
    "queue": "priority scheduling of {t} jobs on a binary heap.",
    "fsm": "the {t} lifecycle as a finite-state machine.",
    "graph": "dependency ordering and wave planning for {t} tasks.",
    "text": "text normalisation, word statistics and report layout for {t} notes.",
    "money": "integer-cent money arithmetic and totals for {t} line items.",
    "validate": "form validation for {t} input.",
    "events": "typed events and a running ledger for {t} changes.",
}


def module_source(
    plan: PackagePlan,
    names: Names,
    kind: str,
    *,
    imports: dict[str, set[str]],
    core: str,
    rules: list[str],
) -> str:
    header = [
        "/**",
        f" * {names.stem}: {KIND_BLURB[kind].format(t=names.words)}",
        " *",
        f" * Part of {plan.name}.",
        " */",
    ]
    ordered = sorted(imports, key=lambda spec: (spec.startswith("."), spec))
    lines = [import_line(sorted(imports[spec]), spec) for spec in ordered]
    head = "\n".join([*header, "", *lines]) + ("\n\n" if lines else "\n")
    return head + core + "\n" + "\n".join(rules)


def import_line(names: Sequence[str], spec: str) -> str:
    """A named import, wrapped one name per line (prettier style) beyond 100 columns."""
    line = f"import {{ {', '.join(names)} }} from {q(spec)};"
    if len(line) <= 100:
        return line
    return "\n".join(["import {", *[f"  {name}," for name in names], f"}} from {q(spec)};"])


def test_source(names: Names, imported: list[str], core_test: str, rule_tests: list[str]) -> str:
    head = [
        'import { describe, it } from "node:test";',
        'import assert from "node:assert";',
        "",
        import_line(imported, "./" + names.stem),
        "",
    ]
    return "\n".join(head) + "\n" + core_test + "\n" + "\n".join(rule_tests)


def index_lines(modules: Sequence[Module]) -> int:
    """Lines of index.ts + index.test.ts for a package made of `modules`."""
    return sum(count_lines(text) for text in index_files("", modules))


def index_files(package: str, modules: Sequence[Module]) -> tuple[str, str]:
    """src/index.ts (re-exports every module) and its test."""
    index = "\n".join(
        [
            f"/** Public API of {package}. */",
            "",
            *[f"export * from {q('./' + m.stem)};" for m in modules],
            "",
        ]
    )
    exported = [name for m in modules for name in m.exports]
    test = "\n".join(
        [
            'import { describe, it } from "node:test";',
            'import assert from "node:assert";',
            "",
            'import * as api from "./index";',
            "",
            f"describe({q(package + ' public API')}, () => {{",
            '  it("re-exports every module", () => {',
            "    const exported: Record<string, unknown> = api;",
            "    for (const name of [",
            *[f"      {q(name)}," for name in exported],
            "    ]) {",
            '      assert.strictEqual(typeof exported[name], "function", name);',
            "    }",
            "  });",
            "});",
            "",
        ]
    )
    return index, test


# --------------------------------------------------------------------------- files


def dump_json(data: object) -> str:
    return json.dumps(data, indent=2) + "\n"


def package_files(plan: PackagePlan) -> dict[str, str]:
    base = f"packages/{plan.dir}"
    manifest: dict[str, object] = {
        "name": plan.name,
        "version": "1.0.0",
        "private": True,
        "main": "dist/index.js",
        "types": "dist/index.d.ts",
        "scripts": {"build": "tsc -b", "test": "tsc -b && node --test dist/*.test.js"},
    }
    if plan.deps:
        manifest["dependencies"] = {f"{SCOPE}/pkg-{d:02d}": "*" for d in plan.deps}
    tsconfig: dict[str, object] = {
        "compilerOptions": {
            "composite": True,
            "rootDir": "src",
            "outDir": "dist",
            "module": "commonjs",
            "target": "es2020",
            "lib": ["es2020"],
            "types": ["node"],
            "strict": True,
            "esModuleInterop": True,
            "skipLibCheck": True,
            "forceConsistentCasingInFileNames": True,
        },
        "include": ["src"],
        "references": [{"path": f"../pkg-{d:02d}"} for d in plan.deps],
    }
    files = {
        f"{base}/package.json": dump_json(manifest),
        f"{base}/tsconfig.json": dump_json(tsconfig),
    }
    index, index_test = index_files(plan.name, plan.modules)
    files[f"{base}/src/index.ts"] = index
    files[f"{base}/src/index.test.ts"] = index_test
    for module in plan.modules:
        files[f"{base}/src/{module.stem}.ts"] = module.source
        files[f"{base}/src/{module.stem}.test.ts"] = module.test
    return files


README = """\
# Generated TypeScript monorepo

Generated by `gen-monorepo.py --lines %LINES% --packages %PACKAGES% --seed %SEED%`:
%COUNT% npm workspaces under `packages/`, built with TypeScript project references.

    npm ci                           # or: npm install
    npm test                         # tsc -b, then node --test over every compiled test
    npm test -w packages/pkg-01      # one package (builds its references first)

A package only imports from lower-numbered packages, so the dependency graph is acyclic.
"""


def repo_files(plans: list[PackagePlan], seed: int) -> dict[str, str]:
    lines = sum(count_lines(m.source) + count_lines(m.test) for p in plans for m in p.modules)
    lines += sum(index_lines(p.modules) for p in plans)
    root = {
        "name": "mono-root",
        "version": "1.0.0",
        "private": True,
        "workspaces": ["packages/*"],
        "scripts": {
            "build": "tsc -b",
            "clean": "tsc -b --clean",
            "test": "tsc -b && node --test packages/*/dist/*.test.js",
        },
        "devDependencies": {"@types/node": TYPES_NODE_VERSION, "typescript": TYPESCRIPT_VERSION},
        "engines": {"node": ">=18"},
    }
    files = {
        ".gitignore": "node_modules/\ndist/\n*.tsbuildinfo\n",
        "README.md": render(
            README,
            {
                "LINES": str(lines),
                "PACKAGES": str(len(plans)),
                "SEED": str(seed),
                "COUNT": str(len(plans)),
            },
        ),
        "package.json": dump_json(root),
        "tsconfig.json": dump_json(
            {"files": [], "references": [{"path": f"packages/{p.dir}"} for p in plans]}
        ),
    }
    for plan in plans:
        files.update(package_files(plan))
    return dict(sorted(files.items()))


def build_files(lines: int, packages: int, seed: int) -> dict[str, str]:
    """The generated tree as {relative path: content}; a pure function of its arguments."""
    if lines < 1 or packages < 1:
        raise ValueError("--lines and --packages must be positive")
    return RepoBuilder(lines, packages, seed).build()


def ts_line_count(files: dict[str, str]) -> int:
    return sum(count_lines(text) for path, text in files.items() if path.endswith(".ts"))


# --------------------------------------------------------------------------- side effects


def write_tree(out: Path, files: dict[str, str], force: bool) -> None:
    if out.exists() and any(out.iterdir()):
        if not force:
            raise SystemExit(f"error: {out} is not empty (use --force to replace it)")
        shutil.rmtree(out)
    for rel, text in files.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    """Run `cmd` quietly; on failure show its output and stop."""
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"error: {' '.join(cmd)} exited with {result.returncode}")


def write_lockfile(out: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("error: --lockfile needs npm on PATH")
    run(
        [npm, "install", "--package-lock-only", "--ignore-scripts", "--no-audit", "--no-fund"],
        out,
    )


def git_commit(out: Path, message: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | GIT_IDENTITY
    quiet = ["-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null"]
    run(["git", "init", "-q", "-b", "main"], out, env)
    run(["git", "add", "-A"], out, env)
    run(["git", *quiet, "commit", "-q", "--no-verify", "-m", message], out, env)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=out, env=env, capture_output=True, text=True, check=True
    )
    return head.stdout.strip()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--lines", type=int, required=True, help="approximate lines of TS")
    parser.add_argument("--packages", type=int, required=True, help="number of workspaces")
    parser.add_argument("--seed", type=int, required=True, help="random seed")
    parser.add_argument("--lockfile", action="store_true", help="write package-lock.json (npm)")
    parser.add_argument("--git", action="store_true", help="git init + deterministic commit")
    parser.add_argument("--force", action="store_true", help="replace a non-empty --out")
    args = parser.parse_args(argv)
    if args.lines < 1 or args.packages < 1:
        parser.error("--lines and --packages must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    files = build_files(args.lines, args.packages, args.seed)
    write_tree(args.out, files, args.force)
    elapsed = time.monotonic() - started
    if args.lockfile:
        write_lockfile(args.out)
    commit = ""
    if args.git:
        message = (
            f"Generated monorepo (--lines {args.lines} --packages {args.packages} "
            f"--seed {args.seed})"
        )
        commit = f", commit {git_commit(args.out, message)[:12]}"
    total = len(files) + (1 if args.lockfile else 0)
    print(
        f"{args.out}: {total} files, {ts_line_count(files)} lines of TypeScript, "
        f"{args.packages} packages (seed {args.seed}, generated in {elapsed:.1f}s{commit})"
    )
    lines = ts_line_count(files)
    if abs(lines - args.lines) > args.lines / 10:
        print(
            f"warning: {lines} lines is more than 10% off --lines {args.lines}; every package "
            "holds at least one module (about 200 lines), so use --lines >= 250 * --packages",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
