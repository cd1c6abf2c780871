"""Dependency graph template: Kahn's topological order and wave planning."""

from __future__ import annotations

from random import Random

from ..model import Core, Kind, Names
from ..reference import kahn_order, plan_waves
from ..tsfmt import indent, q, ts_list
from ..words import TASK_WORDS

SRC = """\
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

TEST = """\
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
    values = names.values() | {
        "TASKS": indent([f"{{ id: {q(t)}, dependsOn: {ts_list(deps[t])} }}," for t in ids], 1),
        "N": str(len(ids)),
        "ORDER": ts_list(order),
        "WAVES": indent([ts_list(w) + "," for w in plan_waves(order, deps)], 3),
    }
    p = names.pascal
    return Core.rendered(
        (SRC, TEST),
        values,
        [f"{p}Graph", f"plan{p}Waves"],
        [f"{p}Graph", f"plan{p}Waves", f"type {p}Task"],
    )


KIND = Kind("graph", "dependency ordering and wave planning for {t} tasks.", core_graph)
