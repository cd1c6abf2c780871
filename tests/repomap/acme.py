"""A hand-made workspace where the right answers are known: two workspace packages (one
imported by name through a barrel), a tsconfig path alias, a test, and a README."""

from __future__ import annotations

ACME: dict[str, str] = {
    "package.json": '{"name": "acme", "private": true, "workspaces": ["packages/*"]}\n',
    "tsconfig.json": """{
  // paths relative to baseUrl; comments and trailing commas are allowed here
  "compilerOptions": {"baseUrl": ".", "paths": {"@lib/*": ["libs/*"],},},
}
""",
    "README.md": "# acme\nRefunds, currencies and ledgers.\n",
    "packages/money/package.json": """{"name": "@acme/money", "main": "dist/index.js",
  "types": "dist/index.d.ts"}\n""",
    "packages/money/src/index.ts": 'export * from "./currency";\nexport * from "./rates";\n',
    "packages/money/src/currency.ts": """export type Currency = "USD" | "EUR" | "JPY";

export interface Money {
  amount: number;
  currency: Currency;
}

/** Converts an amount between currencies at today's rate. */
export function convertCurrency(money: Money, to: Currency): Money {
  return { amount: money.amount * rateBetween(money.currency, to), currency: to };
}

function rateBetween(from: Currency, to: Currency): number {
  return from === to ? 1 : 1.1;
}
""",
    "packages/money/src/rates.ts": """export const DEFAULT_RATES: Record<string, number> = {};

export class RateTable {
  private rates = new Map<string, number>();
  lookup(pair: string): number | undefined {
    return this.rates.get(pair);
  }
}
""",
    "packages/payments/package.json": """{"name": "@acme/payments", "main": "dist/index.js",
  "dependencies": {"@acme/money": "*"}}\n""",
    "packages/payments/src/index.ts": 'export { refund } from "./refund";\n',
    "packages/payments/src/refund.ts": """import { convertCurrency, type Money } from "@acme/money";
import { audit } from "@lib/audit";

export interface Payment {
  id: string;
  paid: Money;
}

/** Books a refund of a payment. */
export function refund(payment: Payment): Money {
  audit(`refund ${payment.id}`);
  return convertCurrency(payment.paid, "USD");
}
""",
    "packages/payments/src/refund.test.ts": """import { refund } from "./refund";
test("refund keeps the currency", () => refund({ id: "1", paid: { amount: 1, currency: "EUR" } }));
""",
    "packages/payments/src/ledger.ts": """import { refund } from "./refund.js";
export const ledger: string[] = [];
export function book(entry: string): void {
  ledger.push(entry);
}
""",
    "libs/audit.ts": "export function audit(line: string): void {\n  console.log(line);\n}\n",
    "web/app.tsx": """import React from "react";
import { refund } from "@acme/payments";
export const App = () => <button onClick={() => refund}>Refund</button>;
""",
    "scripts/report.js": """const { book } = require("../packages/payments/src/ledger");
module.exports = function report() { return book("report"); };
""",
}

TICKET = """Refunds must keep the original currency

`refund()` converts every refund to USD before booking it; it must book in the payment's own
currency instead.
"""
