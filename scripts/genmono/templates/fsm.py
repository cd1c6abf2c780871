"""Finite-state machine template: a transition table, a machine and a replay helper."""

from __future__ import annotations

from random import Random

from ..model import Core, Kind, Names
from ..tsfmt import indent, q, ts_list
from ..words import WORKFLOWS

SRC = """\
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

TEST = """\
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
    exports = [f"{p}Machine", f"replay{p}"]
    return Core.rendered((SRC, TEST), values, exports, exports)


KIND = Kind("workflow", "the {t} lifecycle as a finite-state machine.", core_fsm)
