"""Money template: an integer-cent amount type and a discounted order total."""

from __future__ import annotations

from random import Random

from ..model import Core, Kind, Names
from ..reference import allocate, money_format, money_subtotal, money_total
from ..tsfmt import indent, q, ts_list

SRC = """\
/** Currencies accepted for %T% amounts. */
export type %P%Currency = "EUR" | "USD" | "GBP";

/** An immutable amount of money in whole cents. */
export class %P%Amount {
  private constructor(
    readonly cents: number,
    readonly currency: %P%Currency,
  ) {}

  static of(cents: number, currency: %P%Currency): %P%Amount {
    if (!Number.isSafeInteger(cents)) {
      throw new TypeError(`amount must be whole cents, got ${cents}`);
    }
    return new %P%Amount(cents, currency);
  }

  add(other: %P%Amount): %P%Amount {
    if (other.currency !== this.currency) {
      throw new Error(`currency mismatch: ${this.currency} vs ${other.currency}`);
    }
    return new %P%Amount(this.cents + other.cents, this.currency);
  }

  percent(rate: number): %P%Amount {
    return new %P%Amount(Math.floor((this.cents * rate) / 100), this.currency);
  }

  /** Splits into `parts` shares that differ by at most one cent, larger shares first. */
  allocate(parts: number): %P%Amount[] {
    const base = Math.floor(this.cents / parts);
    let remainder = this.cents - base * parts;
    const shares: %P%Amount[] = [];
    for (let index = 0; index < parts; index++) {
      const extra = remainder > 0 ? 1 : 0;
      remainder -= extra;
      shares.push(new %P%Amount(base + extra, this.currency));
    }
    return shares;
  }

  format(): string {
    const sign = this.cents < 0 ? "-" : "";
    const absolute = Math.abs(this.cents);
    const fraction = String(absolute % 100).padStart(2, "0");
    return `${sign}${Math.floor(absolute / 100)}.${fraction} ${this.currency}`;
  }
}

/** One priced %T% line. */
export interface %P%LineItem {
  readonly sku: string;
  readonly quantity: number;
  readonly unitCents: number;
}

/** Minimum subtotal (cents) that earns the volume discount. */
export const %U%_DISCOUNT_THRESHOLD = %THRESHOLD%;

/** Sums the line items and takes %DISCOUNT%% off subtotals at or above the threshold. */
export function total%P%(items: readonly %P%LineItem[], currency: %P%Currency): %P%Amount {
  const subtotal = items.reduce(
    (sum, item) => sum.add(%P%Amount.of(item.quantity * item.unitCents, currency)),
    %P%Amount.of(0, currency),
  );
  if (subtotal.cents < %U%_DISCOUNT_THRESHOLD) {
    return subtotal;
  }
  const discount = subtotal.percent(%DISCOUNT%);
  return %P%Amount.of(subtotal.cents - discount.cents, currency);
}
"""

TEST = """\
const items: %P%LineItem[] = [
%ITEMS%
];

describe("%P%Amount", () => {
  it("formats cents", () => {
    assert.strictEqual(%P%Amount.of(%FMT_CENTS%, %CUR%).format(), %FMT%);
    assert.strictEqual(%P%Amount.of(-%NEG_CENTS%, %CUR%).format(), %NEG_FMT%);
  });

  it("allocates without losing cents", () => {
    const shares = %P%Amount.of(%ALLOC_CENTS%, %CUR%).allocate(%PARTS%);
    assert.deepStrictEqual(
      shares.map((share) => share.cents),
      %SHARES%,
    );
  });

  it("refuses mixed currencies and fractional cents", () => {
    assert.throws(() => %P%Amount.of(1, "EUR").add(%P%Amount.of(1, "USD")), /mismatch/);
    assert.throws(() => %P%Amount.of(1.5, "GBP"), TypeError);
  });
});

describe("total%P%", () => {
  it("applies the volume discount", () => {
    assert.strictEqual(total%P%(items, %CUR%).format(), %TOTAL%);
  });

  it("keeps small orders undiscounted", () => {
    assert.strictEqual(total%P%(items.slice(0, 1), %CUR%).cents, %SMALL%);
  });
});
"""


def core_money(rng: Random, names: Names) -> Core:
    currency = rng.choice(["EUR", "USD", "GBP"])
    items = [
        (f"{names.abbr.upper()}-{rng.randint(100, 999)}", rng.randint(1, 9), rng.randint(50, 20000))
        for _ in range(rng.randint(2, 4))
    ]
    first = money_subtotal(items[:1])
    threshold = rng.randint(first + 1, max(first + 1, money_subtotal(items)))
    discount = rng.randint(3, 15)
    fmt_cents, neg_cents = rng.randint(0, 99999), rng.randint(1, 9999)
    alloc_cents, parts = rng.randint(100, 10000), rng.randint(2, 5)
    values = names.values() | {
        "ITEMS": indent(
            [f"{{ sku: {q(s)}, quantity: {n}, unitCents: {u} }}," for s, n, u in items], 1
        ),
        "THRESHOLD": str(threshold),
        "DISCOUNT": str(discount),
        "CUR": q(currency),
        "FMT_CENTS": str(fmt_cents),
        "FMT": q(money_format(fmt_cents, currency)),
        "NEG_CENTS": str(neg_cents),
        "NEG_FMT": q(money_format(-neg_cents, currency)),
        "ALLOC_CENTS": str(alloc_cents),
        "PARTS": str(parts),
        "SHARES": ts_list(allocate(alloc_cents, parts)),
        "TOTAL": q(money_format(money_total(items, threshold, discount), currency)),
        "SMALL": str(money_total(items[:1], threshold, discount)),
    }
    p = names.pascal
    return Core.rendered(
        (SRC, TEST),
        values,
        [f"{p}Amount", f"total{p}"],
        [f"{p}Amount", f"total{p}", f"type {p}LineItem"],
    )


KIND = Kind("pricing", "integer-cent money arithmetic and totals for {t} line items.", core_money)
