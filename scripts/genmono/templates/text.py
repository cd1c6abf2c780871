"""Text helpers template: slugs, word statistics, word wrap and report layout."""

from __future__ import annotations

from collections.abc import Sequence
from random import Random

from ..model import Core, Kind, Names
from ..reference import count_words, format_report, slugify, top_words, wrap
from ..tsfmt import indent, q, ts_list
from ..words import VOCAB

SRC = """\
/** Layout options for {@link format%P%Report}. */
export interface %P%TextOptions {
  readonly width: number;
  readonly bullet: string;
}

/** Lower-cases `input` and joins its alphanumeric runs with dashes. */
export function slugify%P%(input: string): string {
  return input
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
}

/** Counts case-insensitive alphanumeric words. */
export function count%P%Words(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const word of text.toLowerCase().split(/[^a-z0-9]+/)) {
    if (word.length > 0) {
      counts.set(word, (counts.get(word) ?? 0) + 1);
    }
  }
  return counts;
}

/** The `limit` most frequent words, ties broken alphabetically. */
export function top%P%Words(text: string, limit: number): Array<[string, number]> {
  return [...count%P%Words(text).entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, limit);
}

/** Greedy word wrap; a word longer than `width` gets a line of its own. */
export function wrap%P%Text(text: string, width: number): string[] {
  const lines: string[] = [];
  let current = "";
  for (const word of text.split(/\\s+/).filter((part) => part.length > 0)) {
    if (current.length === 0) {
      current = word;
    } else if (current.length + 1 + word.length <= width) {
      current = `${current} ${word}`;
    } else {
      lines.push(current);
      current = word;
    }
  }
  if (current.length > 0) {
    lines.push(current);
  }
  return lines;
}

/** Renders a titled, bulleted report wrapped to `options.width` columns. */
export function format%P%Report(
  title: string,
  items: readonly string[],
  options: %P%TextOptions,
): string {
  const header = title.toUpperCase();
  const hanging = " ".repeat(options.bullet.length);
  const body = items.flatMap((item) =>
    wrap%P%Text(item, options.width - options.bullet.length - 1).map((line, index) =>
      index === 0 ? `${options.bullet} ${line}` : `${hanging} ${line}`,
    ),
  );
  return [header, "=".repeat(header.length), ...body].join("\\n");
}
"""

TEST = """\
describe("slugify%P%", () => {
  it("normalises phrases", () => {
%SLUGS%
  });
});

describe("top%P%Words", () => {
  it("ranks words by frequency", () => {
    const text = %TEXT%;
    assert.strictEqual(count%P%Words(text).size, %DISTINCT%);
    assert.deepStrictEqual(top%P%Words(text, 3), %TOP%);
  });
});

describe("format%P%Report", () => {
  it("wraps items under the title", () => {
    assert.deepStrictEqual(wrap%P%Text(%WRAP_IN%, %WIDTH%), %WRAP_OUT%);
    const report = format%P%Report(%TITLE%, %ITEMS%, { width: %WIDTH%, bullet: %BULLET% });
    assert.strictEqual(report, %REPORT%);
  });
});
"""


def phrase(rng: Random, words: Sequence[str], count: int) -> str:
    parts = []
    for _ in range(count):
        word = rng.choice(words)
        if rng.random() < 0.3:
            word = word.capitalize()
        if rng.random() < 0.1:
            word = str(rng.randint(1, 2030))
        parts.append(word)
    out = parts[0]
    for part in parts[1:]:
        out += rng.choice([" ", " ", " ", ", ", " - ", ": ", " & ", ". "]) + part
    return out


def core_text(rng: Random, names: Names) -> Core:
    slug_cases = [phrase(rng, VOCAB, rng.randint(2, 5)) for _ in range(rng.randint(2, 4))]
    slug_cases.append(f"  {phrase(rng, VOCAB, 2)}!  ")
    small = rng.sample(VOCAB, 6)
    text = phrase(rng, small, rng.randint(12, 18))
    counts = count_words(text)
    width = rng.randint(14, 26)
    bullet = rng.choice(["-", "*", "+", ">>"])
    title = phrase(rng, VOCAB, 3)
    items = [phrase(rng, VOCAB, rng.randint(3, 9)) for _ in range(rng.randint(2, 3))]
    p = names.pascal
    values = names.values() | {
        "SLUGS": indent(
            [f"assert.strictEqual(slugify{p}({q(s)}), {q(slugify(s))});" for s in slug_cases],
            2,
        ),
        "TEXT": q(text),
        "DISTINCT": str(len(counts)),
        "TOP": "[" + ", ".join(f"[{q(w)}, {c}]" for w, c in top_words(counts, 3)) + "]",
        "WRAP_IN": q(items[0]),
        "WIDTH": str(width),
        "WRAP_OUT": ts_list(wrap(items[0], width)),
        "TITLE": q(title),
        "ITEMS": ts_list(items),
        "BULLET": q(bullet),
        "REPORT": q(format_report(title, items, width, bullet)),
    }
    funcs = [f"slugify{p}", f"count{p}Words", f"top{p}Words", f"wrap{p}Text", f"format{p}Report"]
    return Core.rendered((SRC, TEST), values, funcs, funcs)


KIND = Kind(
    "text", "text normalisation, word statistics and report layout for {t} notes.", core_text
)
