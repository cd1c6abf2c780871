"""The demo's stages, scripted: each is a function from the request to the next reply, so the
run is deterministic and needs no network. The Coder's first attempt leaves a bug that the
ticket's own test catches; its retry (one tier up) reads the failing test and fixes it."""

from __future__ import annotations

from harness.vendors.scripted import Reply
from harness.vendors.types import ModelRequest

BUGGY = '''/** Turn a title into a URL slug. */
export function slugify(title: string): string {
  return title.toLowerCase().replace(/[^a-z0-9]+/g, "-");
}
'''
FIXED = '''/** Turn a title into a URL slug: lower-case words joined by single dashes. */
export function slugify(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
}
'''
TEST = '''import { test } from "node:test";
import * as assert from "node:assert";
import { slugify } from "./slug";

test("lower-cases and joins words with dashes", () => {
  assert.strictEqual(slugify("Hello World"), "hello-world");
});

test("drops punctuation and trims dashes", () => {
  assert.strictEqual(slugify("  Hello, World!  "), "hello-world");
});
'''
MANIFEST = {
    "summary": "Make slugify collapse every run of non-alphanumerics into one dash and trim "
               "dashes at both ends; cover it with a test.",
    "sub_tickets": [{
        "id": "S1", "title": "slugify: collapse punctuation, trim dashes",
        "description": "Change slugify in src/slug.ts and add a test in src/slug.test.ts.",
        "files": ["src/slug.ts", "src/slug.test.ts"], "symbols": ["slugify"],
        "operations": [{"op": "modify", "path": "src/slug.ts", "symbol": "slugify"},
                       {"op": "modify", "path": "src/slug.test.ts"}],
        "depends_on": []}],
}


def _turns(request: ModelRequest) -> int:
    """Tool-result turns so far in this attempt."""
    return sum(1 for m in request.messages if m.tool_results)


def planner(request: ModelRequest) -> Reply:
    if _turns(request) == 0:
        return Reply("Looking at the sources first.", [("list_files", {"path": "src"})])
    return Reply("", [("submit_manifest", MANIFEST)])


def coder(request: ModelRequest) -> Reply:
    retry = "Your previous attempt failed" in request.messages[0].text
    turn = _turns(request)
    if turn == 0:
        return Reply("", [("read_file", {"path": "src/slug.ts"})])
    if turn == 1:
        source = FIXED if retry else BUGGY
        return Reply("", [("write_file", {"path": "src/slug.ts", "content": source}),
                          ("write_file", {"path": "src/slug.test.ts", "content": TEST})])
    summary = ("Trimmed leading and trailing dashes after the failing test showed them."
               if retry else "slugify now replaces runs of non-alphanumerics with a dash.")
    return Reply("", [("finish", {"summary": summary})])


def debugger(request: ModelRequest) -> Reply:
    return Reply("", [("submit_diagnosis", {
        "owner": "coder", "root_cause": "slugify keeps dashes at the ends of the slug",
        "brief": "Strip leading and trailing dashes after collapsing separators."})])


def reviewer(request: ModelRequest) -> Reply:
    if _turns(request) == 0:
        return Reply("", [("read_file", {"path": "CONVENTIONS.md"})])
    return Reply("", [("submit_review", {"verdict": "approve", "findings": []})])
