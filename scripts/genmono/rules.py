"""Integer "rule" functions: TypeScript bodies plus the Python functions they mirror.

A rule may call a rule of its own package or of a lower-numbered one (its callee), which is
how a change to one rule fails the tests of every package that calls it.
"""

from __future__ import annotations

from collections.abc import Callable
from random import Random

from .model import Rule
from .tsfmt import indent, q, ts_list

RuleBody = tuple[list[str], Callable[[int], int]]
ShapeBuilder = Callable[[Random, Rule | None], RuleBody]


def feed_ts(callee: Rule | None) -> str:
    """The value a rule starts from: its input, or its callee applied to it."""
    return "input" if callee is None else callee.call_ts


def feed(callee: Rule | None, value: int) -> int:
    """Python mirror of :func:`feed_ts`."""
    return value if callee is None else callee.call(value)


def rule_fold(rng: Random, callee: Rule | None) -> RuleBody:
    c0, rounds = rng.randint(1, 97), rng.randint(2, 6)
    mul, step = rng.choice([31, 37, 41, 43, 47, 53]), rng.randint(1, 19)
    mod = rng.choice([8191, 10007, 65521, 99991])
    div = rng.randint(2, 7)
    rem, bump = rng.randrange(div), rng.randint(1, 97)
    start = str(c0) if callee is None else f"({c0} + {callee.call_ts}) % {mod}"
    lines = [
        f"let acc = {start};",
        f"for (let round = 0; round < {rounds}; round++) {{",
        f"  acc = (acc * {mul} + input + round * {step}) % {mod};",
        f"  if (acc % {div} === {rem}) {{",
        f"    acc = (acc + {bump}) % {mod};",
        "  }",
        "}",
        "return acc;",
    ]

    def fn(x: int) -> int:
        acc = c0 if callee is None else (c0 + callee.call(x)) % mod
        for r in range(rounds):
            acc = (acc * mul + x + r * step) % mod
            if acc % div == rem:
                acc = (acc + bump) % mod
        return acc

    return lines, fn


def rule_tier(rng: Random, callee: Rule | None) -> RuleBody:
    span = rng.choice([500, 1000, 2000])
    low = rng.randint(span // 5, span // 2)
    high = rng.randint(low + 1, span - 1)
    mul, add, mul2 = rng.randint(2, 9), rng.randint(1, 50), rng.randint(3, 13)
    mod = rng.choice([977, 1009, 4001])
    lines = [
        f"const base = {feed_ts(callee)} % {span};",
        f"if (base < {low}) {{",
        f"  return base * {mul} + {add};",
        "}",
        f"if (base < {high}) {{",
        f"  return (base * {mul2}) % {mod};",
        "}",
        f"return base - {low};",
    ]

    def fn(x: int) -> int:
        base = feed(callee, x) % span
        if base < low:
            return base * mul + add
        if base < high:
            return (base * mul2) % mod
        return base - low

    return lines, fn


def rule_digits(rng: Random, callee: Rule | None) -> RuleBody:
    mul, mod, start = rng.choice([7, 11, 13, 17, 19]), rng.choice([8191, 65521]), rng.randint(1, 9)
    lines = [
        f'const digits = String({feed_ts(callee)}).split("").map(Number);',
        "return digits.reduce(",
        f"  (acc, digit, index) => (acc * {mul} + digit * (index + 1)) % {mod},",
        f"  {start},",
        ");",
    ]

    def fn(x: int) -> int:
        acc = start
        for index, char in enumerate(str(feed(callee, x))):
            acc = (acc * mul + int(char) * (index + 1)) % mod
        return acc

    return lines, fn


def rule_switch(rng: Random, callee: Rule | None) -> RuleBody:
    add, mul, div = rng.randint(1, 99), rng.randint(2, 29), rng.randint(2, 9)
    mod = rng.choice([1009, 4093, 10007])
    third = callee.call_ts if callee is not None else f"Math.floor(input / {div})"
    lines = [
        "switch (input % 4) {",
        "  case 0:",
        f"    return (input + {add}) % {mod};",
        "  case 1:",
        f"    return (input * {mul}) % {mod};",
        "  case 2:",
        f"    return {third};",
        "  default:",
        f"    return (input * input) % {mod};",
        "}",
    ]

    def fn(x: int) -> int:
        case = x % 4
        if case == 0:
            return (x + add) % mod
        if case == 1:
            return (x * mul) % mod
        if case == 2:
            return callee.call(x) if callee is not None else x // div
        return (x * x) % mod

    return lines, fn


# shape -> (doc comment, body builder)
RULE_SHAPES: dict[str, tuple[str, ShapeBuilder]] = {
    "fold": ("Mixes `input` through a few modular rounds", rule_fold),
    "tier": ("Maps `input` onto a tiered scale", rule_tier),
    "digits": ("Folds the decimal digits of `input`", rule_digits),
    "switch": ("Dispatches on `input % 4`", rule_switch),
}


def rule_text(name: str, shape: str, body: list[str], callee: Rule | None) -> str:
    doc = RULE_SHAPES[shape][0]
    doc += (f", seeded by {{@link {callee.name}}}" if callee else "") + "."
    return "\n".join(
        [
            f"/** {doc} */",
            f"export function {name}(input: number): number {{",
            indent(body, 1),
            "}",
            "",
        ]
    )


def rule_test(rule: Rule, rng: Random) -> str:
    # One input per residue mod 4, so every branch of a `switch` rule (and its callee) runs.
    inputs = sorted(4 * rng.randrange(1250) + residue for residue in range(4))
    checks = [f"    assert.strictEqual({rule.name}({x}), {rule.fn(x)});" for x in inputs]
    return "\n".join(
        [
            f"describe({q(rule.name)}, () => {{",
            '  it("matches the reference values", () => {',
            *checks,
            "  });",
            "",
            '  it("always returns a non-negative integer", () => {',
            f"    for (const value of {ts_list(inputs)}) {{",
            f"      const result = {rule.name}(value);",
            "      assert.ok(Number.isInteger(result) && result >= 0, String(result));",
            "    }",
            "  });",
            "});",
            "",
        ]
    )
