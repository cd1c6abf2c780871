"""Keyed record store template: a Map-backed store and a summary function."""

from __future__ import annotations

from random import Random

from ..model import Core, Kind, Names
from ..tsfmt import indent, js_sorted, q, ts_list
from ..words import LABELS, PLACES, TAGS

SRC = """\
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

TEST = """\
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
    return Core.rendered(
        (SRC, TEST),
        values,
        [f"{p}Store", f"summarize{p}Records"],
        [f"{p}Store", f"summarize{p}Records", f"type {p}Record"],
    )


KIND = Kind("store", "keyed in-memory storage and summaries of {t} records.", core_store)
