"""The batch's ledger: a Ray actor on the driver's node that tickets consult as they start.

A ticket queued on some node asks ``admit`` before anything else, so the batch caps hold across
the cluster at the moment a ticket would start (as the local engine checks them), and a node's
first wave of starts (one per slot) is staggered as the local engine staggers its workers'. A
run tells ``started`` its id once its run directory exists; the driver drains those notes to
show the ticket as running and to keep a placeholder of the run in its runs directory. A
finished ticket adds its spend before its slot frees (counted once per run that spent it,
retried runs included: the money is gone either way). Calls are served one at a time (Ray's
default), so no locks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Started:
    ticket: str
    node: str
    run_id: str
    run_json: bytes  # the run's first run.json, for the driver's placeholder


class Ledger:
    def __init__(self, cost_cap_usd: float | None, token_cap: int | None, *,
                 cost_usd: float, tokens: int, stagger_s: float, slots: dict[str, int]) -> None:
        self.cost_cap_usd, self.token_cap = cost_cap_usd, token_cap
        self.cost_usd, self.tokens = cost_usd, tokens  # spent so far, earlier batches included
        self.stagger_s = stagger_s
        self.slots = slots  # by node, as the batch began; a node that joins later counts 1
        self.starts: dict[str, int] = {}
        self.next_start: dict[str, float] = {}
        self.notes: list[Started] = []

    def admit(self, ticket: str, node: str) -> float | None:
        """Seconds to wait before starting on ``node``, or None: a batch cap is reached."""
        if self.capped():
            return None
        self.starts[node] = self.starts.get(node, 0) + 1
        if self.starts[node] > self.slots.get(node, 1):
            return 0.0  # past the first wave, starts are spread by the tickets' own lengths
        now = time.monotonic()
        at = max(now, self.next_start.get(node, now))
        self.next_start[node] = at + self.stagger_s
        return at - now

    def capped(self) -> bool:
        if self.cost_cap_usd is not None and self.cost_usd >= self.cost_cap_usd:
            return True
        return self.token_cap is not None and self.tokens >= self.token_cap

    def started(self, note: Started) -> None:
        self.notes.append(note)

    def spent(self, cost_usd: float, tokens: int) -> None:
        self.cost_usd += cost_usd
        self.tokens += tokens

    def drain(self) -> list[Started]:
        notes, self.notes = self.notes, []
        return notes
