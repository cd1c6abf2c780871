"""Priority queue template: a binary heap and a job scheduler on top of it."""

from __future__ import annotations

from random import Random

from ..model import Core, Kind, Names
from ..reference import schedule_jobs
from ..tsfmt import indent, q, ts_list

SRC = """\
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

TEST = """\
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
    order = schedule_jobs(jobs)
    values = names.values() | {
        "JOBS": indent([f"{{ id: {q(i)}, priority: {p} }}," for i, p in jobs], 1),
        "NUMBERS": ts_list(numbers),
        "MIN": str(min(numbers)),
        "SORTED": ts_list(sorted(numbers)),
        "ORDER": ts_list(order),
        "ORDER_TWO": ts_list(order[:2]),
    }
    p = names.pascal
    return Core.rendered(
        (SRC, TEST),
        values,
        [f"{p}Queue", f"compare{p}Jobs", f"schedule{p}Jobs"],
        [f"{p}Queue", f"schedule{p}Jobs", f"type {p}Job"],
    )


KIND = Kind("queue", "priority scheduling of {t} jobs on a binary heap.", core_queue)
