"""The live meter: every token of every stage, counted against the run's caps as each response
arrives, so no further call is made once one is crossed."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from harness.errors import RunStopped


@dataclass
class Meter:
    """Every token of every stage, counted live against the run's caps. ``add`` raises
    ``RunStopped`` the moment a cap is crossed, so no further call is made. Tokens are
    charged tokens (``Usage.charged``): a cache read counts at its price share."""

    token_cap: int
    cost_cap_usd: float | None = None
    tokens: int = 0
    cost_usd: float = 0.0
    on_change: Callable[[Meter], None] | None = None
    ceiling: int | None = None  # a calibrated cap below token_cap, once the decomposition is known
    ceiling_note: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def limit(self, ceiling: int | None, note: str = "") -> None:
        """Hold the run to ``ceiling`` as well as to ``token_cap`` (None: token_cap alone).
        Checked on the next ``add`` or ``check``."""
        self.ceiling, self.ceiling_note = ceiling, note

    @property
    def effective_cap(self) -> int:
        return self.token_cap if self.ceiling is None else min(self.token_cap, self.ceiling)

    def add(self, tokens: int, cost_usd: float) -> None:
        with self._lock:
            self.tokens += tokens
            self.cost_usd += cost_usd
        if self.on_change:
            self.on_change(self)
        self.check()

    def check(self) -> None:
        if self.tokens > self.effective_cap and self.effective_cap < self.token_cap:
            raise RunStopped("token_cap_exceeded", f"calibrated token ceiling crossed: "
                             f"{self.tokens:,} tokens > {self.effective_cap:,} = "
                             f"{self.ceiling_note} — the run stopped at once")
        if self.tokens > self.token_cap:
            raise RunStopped("token_cap_exceeded", f"token cap crossed: {self.tokens:,} tokens "
                             f"> token_cap {self.token_cap:,} — the run stopped at once")
        if self.cost_cap_usd is not None and self.cost_usd > self.cost_cap_usd:
            raise RunStopped("cost_cap_exceeded", f"cost cap crossed: ${self.cost_usd:.4f} > "
                             f"cost_cap_usd ${self.cost_cap_usd:.2f} — the run stopped at once")
