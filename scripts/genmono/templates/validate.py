"""Validation template: field checks over form input and a valid/invalid partition."""

from __future__ import annotations

from random import Random

from ..model import Core, Kind, Names
from ..reference import failing_fields
from ..tsfmt import indent, q, ts_list
from ..words import EMAILS, PEOPLE

SRC = """\
/** Raw %T% form input. */
export interface %P%Input {
  readonly name: string;
  readonly quantity: number;
  readonly email: string;
}

/** A problem found in one field of a {@link %P%Input}. */
export interface %P%Issue {
  readonly field: keyof %P%Input;
  readonly message: string;
}

/** A check returns an issue, or `undefined` when the input passes. */
export type %P%Check = (input: %P%Input) => %P%Issue | undefined;

const %U%_EMAIL = /^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$/;

/** Default checks, in reporting order. */
export const %C%Checks: readonly %P%Check[] = [
  (input) =>
    input.name.trim().length >= %MIN_NAME%
      ? undefined
      : { field: "name", message: "name needs at least %MIN_NAME% characters" },
  (input) =>
    Number.isInteger(input.quantity) && input.quantity >= %LOW% && input.quantity <= %HIGH%
      ? undefined
      : { field: "quantity", message: "quantity must be an integer in [%LOW%, %HIGH%]" },
  (input) =>
    %U%_EMAIL.test(input.email) ? undefined : { field: "email", message: "email is malformed" },
];

/** Runs every check and collects the issues. */
export function validate%P%(
  input: %P%Input,
  checks: readonly %P%Check[] = %C%Checks,
): %P%Issue[] {
  const issues: %P%Issue[] = [];
  for (const check of checks) {
    const issue = check(input);
    if (issue !== undefined) {
      issues.push(issue);
    }
  }
  return issues;
}

/** Splits inputs into those that pass every default check and those that do not. */
export function partition%P%(inputs: readonly %P%Input[]): {
  valid: %P%Input[];
  invalid: %P%Input[];
} {
  const valid: %P%Input[] = [];
  const invalid: %P%Input[] = [];
  for (const input of inputs) {
    (validate%P%(input).length === 0 ? valid : invalid).push(input);
  }
  return { valid, invalid };
}
"""

TEST = """\
const inputs: %P%Input[] = [
%INPUTS%
];

const fields = (input: %P%Input): string[] => validate%P%(input).map((issue) => issue.field);

describe("validate%P%", () => {
  it("reports the failing fields in order", () => {
%CASES%
  });

  it("accepts a custom check list", () => {
    assert.deepStrictEqual(validate%P%(inputs[0], []), []);
    assert.strictEqual(%C%Checks.length, 3);
  });
});

describe("partition%P%", () => {
  it("separates valid from invalid inputs", () => {
    const { valid, invalid } = partition%P%(inputs);
    assert.deepStrictEqual(
      valid.map((input) => input.email),
      %VALID%,
    );
    assert.strictEqual(invalid.length, %INVALID%);
  });
});
"""


def core_validate(rng: Random, names: Names) -> Core:
    min_name, low, high = rng.randint(3, 6), rng.randint(1, 5), rng.randint(20, 200)
    inputs: list[tuple[str, int | float, str]] = []
    for _ in range(rng.randint(4, 6)):
        quantity: int | float = rng.randint(low - 2, high + 3)
        if rng.random() < 0.15:
            quantity = quantity + 0.5
        inputs.append((rng.choice(PEOPLE), quantity, rng.choice(EMAILS)))
    issues = [failing_fields(entry, min_name, low, high) for entry in inputs]
    values = names.values() | {
        "MIN_NAME": str(min_name),
        "LOW": str(low),
        "HIGH": str(high),
        "INPUTS": indent(
            [f"{{ name: {q(n)}, quantity: {v}, email: {q(e)} }}," for n, v, e in inputs], 1
        ),
        "CASES": indent(
            [
                f"assert.deepStrictEqual(fields(inputs[{i}]), {ts_list(f)});"
                for i, f in enumerate(issues)
            ],
            2,
        ),
        "VALID": ts_list([inp[2] for inp, f in zip(inputs, issues, strict=True) if not f]),
        "INVALID": str(sum(1 for f in issues if f)),
    }
    p = names.pascal
    return Core.rendered(
        (SRC, TEST),
        values,
        [f"validate{p}", f"partition{p}"],
        [f"{names.camel}Checks", f"validate{p}", f"partition{p}", f"type {p}Input"],
    )


KIND = Kind("validation", "form validation for {t} input.", core_validate)
