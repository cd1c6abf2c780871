"""Synthetic run histories drawn from known power laws with log-normal noise, as run.json
states (what ``harness history import`` and a finished run hand to the history)."""

from __future__ import annotations

import math
import random
from typing import Any

from harness.calibration.model import Sample, Shape

# stage -> (tokens at sub_tickets = chain_depth = 1 and 1 + operations = 1, exponents)
TRUTH: dict[str, tuple[float, dict[str, float]]] = {
    "planner": (8_000.0, {"sub_tickets": 0.5, "chain_depth": 0.1, "operations": 0.2}),
    "coder": (20_000.0, {"sub_tickets": 0.9, "chain_depth": 0.2, "operations": 0.3}),
    "reviewer": (5_000.0, {"sub_tickets": 0.3, "chain_depth": 0.0, "operations": 0.4}),
}


def truth(stage: str, shape: Shape) -> float:
    scale, exponents = TRUTH[stage]
    return scale * math.exp(sum(b * shape.x(f) for f, b in exponents.items()))


def random_shape(rng: random.Random) -> Shape:
    sub = rng.randint(1, 10)
    return Shape(sub, rng.randint(1, sub), rng.randint(1, 4 * sub))


def attempt(stage: str, n: int, tokens: int, outcome: str) -> dict[str, Any]:
    output = tokens // 6
    return {"stage": stage, "attempt": n, "label": f"{stage}/a{n}", "tier": "medium",
            "vendor": "scripted", "model": "claude-sonnet-4-5", "control": None,
            "usage": {"input_tokens": tokens - output, "output_tokens": output,
                      "cache_read_tokens": 0, "cache_write_tokens": 0, "thinking_tokens": 0},
            "tokens": tokens, "cost_usd": tokens * 3e-6, "duration_s": 1.0, "turns": 2,
            "outcome": outcome, "detail": "", "tests": [], "diff": None}


def run_state(run_id: str, shape: Shape | None, tokens: dict[str, int], *,
              status: str = "resolved", ticket: str = "T-1", day: int = 0,
              token_cap: int = 2_000_000) -> dict[str, Any]:
    """A finished run.json: one attempt per stage (the Coder's split in two when it has more
    than one sub-ticket, as a multi-attempt stage would be)."""
    attempts = []
    for stage, spent in tokens.items():
        if stage == "coder" and shape is not None and shape.sub_tickets > 1:
            attempts += [attempt(stage, 1, spent // 2, "passed"),
                         attempt(stage, 1, spent - spent // 2, "passed")]
        else:
            attempts.append(attempt(stage, 1, spent, "passed"))
    state: dict[str, Any] = {
        "status": status, "run_id": run_id, "ticket": {"id": ticket, "title": "t"},
        "started_at": f"2026-01-01T00:00:00.{day:06d}+00:00", "ended_at": None,
        "config": {"token_cap": token_cap}, "attempts": attempts}
    if shape is not None:
        state["decomposition"] = {**shape.as_dict(), "order": []}
    return state


def history(n: int, *, seed: int = 1, sigma: float = 0.2) -> list[dict[str, Any]]:
    """``n`` resolved runs: every stage's tokens = its TRUTH formula × e^N(0, sigma)."""
    rng = random.Random(seed)
    states = []
    for i in range(n):
        shape = random_shape(rng)
        tokens = {stage: round(truth(stage, shape) * math.exp(rng.gauss(0, sigma)))
                  for stage in TRUTH}
        states.append(run_state(f"R{i:04d}", shape, tokens, day=i))
    return states


def samples(states: list[dict[str, Any]]) -> list[Sample]:
    """run.json states as the fits see them (what HistoryDB.samples returns after ``add``)."""
    out = []
    for state in states:
        spent: dict[str, int] = {}
        for a in state["attempts"]:
            spent[a["stage"]] = spent.get(a["stage"], 0) + a["tokens"]
        decomposition = state.get("decomposition")
        out.append(Sample(state["run_id"], state["status"],
                          Shape.of(decomposition) if decomposition else None,
                          sum(spent.values()), spent))
    return out
