"""Typed events template: a generic emitter and a ledger that listens to it."""

from __future__ import annotations

from random import Random

from ..model import Core, Kind, Names
from ..tsfmt import indent, q, ts_list

SRC = """\
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

TEST = """\
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
    open_: dict[str, int] = {}  # mirror of Ledger.open, updated as the events are drawn
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
    return Core.rendered(
        (SRC, TEST),
        values,
        [f"{p}Emitter", f"{p}Ledger"],
        [f"{p}Emitter", f"{p}Ledger", f"type {p}Events"],
    )


KIND = Kind("events", "typed events and a running ledger for {t} changes.", core_events)
