"""LRU cache template: a Map-backed cache and a memoisation helper."""

from __future__ import annotations

from random import Random

from ..model import Core, Kind, Names
from ..reference import LruModel, memoized_square_calls
from ..tsfmt import indent, q, ts_list

SRC = """\
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

TEST = """\
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
    memo_keys = [rng.randint(1, 6) for _ in range(rng.randint(5, 8))]
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
        "MEMO_CALLS": str(memoized_square_calls(memo_capacity, memo_keys)),
    }
    p = names.pascal
    exports = [f"{p}Cache", f"memoize{p}"]
    return Core.rendered((SRC, TEST), values, exports, exports)


KIND = Kind("cache", "an LRU cache and memoisation helper for {t} lookups.", core_cache)
