#!/usr/bin/env python3
"""Link a dependency image's node_modules into the mounted worktree, as the tests' user:
/workspace/<dir>/node_modules -> /deps/<dir>/node_modules for every directory the install made
one in (see hoist_deps.py). Idempotent and quick; nothing to do in an image without /deps.

A link is made only where the worktree has the directory, has no node_modules of its own, and a
.gitignore on the way ignores node_modules: the links must never show up in the ticket's diff.
Without them the root's dependencies are still found (/node_modules is in every path's parents);
a workspace package's own are not, and that is said on stderr.
"""

import fnmatch
import json
import os
import sys

WORKSPACE, DEPS = "/workspace", "/deps"
RECORD = os.path.join(DEPS, ".harness-deps.json")


def ignore_patterns(directory):
    try:
        with open(os.path.join(directory, ".gitignore"), encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def matches(pattern, below):
    """Whether a .gitignore pattern (without its "!") matches ``below``, a path relative to
    the .gitignore's directory that ends in node_modules."""
    body = pattern.rstrip("/")
    if body.startswith("**/"):
        body = body[3:]
        return fnmatch.fnmatchcase(below, body) or fnmatch.fnmatchcase(below, "*/" + body)
    if "/" in body:  # a leading or inner slash anchors the pattern here
        return fnmatch.fnmatchcase(below, body.lstrip("/"))
    return fnmatch.fnmatchcase("node_modules", body)


def ignored(rel):
    """Whether git ignores <rel>/node_modules, by the .gitignore files from the root down."""
    parts = [] if rel == "." else rel.split("/")
    verdict = False
    for depth in range(len(parts) + 1):
        here = os.path.join(WORKSPACE, *parts[:depth])
        below = "/".join([*parts[depth:], "node_modules"])
        for pattern in ignore_patterns(here):
            negate = pattern.startswith("!")
            if matches(pattern[1:] if negate else pattern, below):
                verdict = not negate
    return verdict


def main():
    try:
        with open(RECORD, encoding="utf-8") as f:
            found = json.load(f)["node_modules"]
    except (OSError, ValueError, KeyError):
        return 0
    skipped = []
    for rel in found:
        here = os.path.normpath(os.path.join(WORKSPACE, rel))
        link = os.path.join(here, "node_modules")
        if not os.path.isdir(here) or os.path.lexists(link):
            continue
        if not ignored(rel):
            skipped.append(rel)
            continue
        try:
            os.symlink(os.path.normpath(os.path.join(DEPS, rel, "node_modules")), link)
        except OSError as exc:
            print(f"link_deps: {link}: {exc}", file=sys.stderr)
    nested = [rel for rel in skipped if rel != "."]
    if nested:
        print("link_deps: node_modules is not in .gitignore, so these packages' own "
              "dependencies are not linked: " + ", ".join(nested), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
