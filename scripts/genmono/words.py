"""Word lists and fixed data the templates draw from (order matters: it feeds the RNG)."""

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
