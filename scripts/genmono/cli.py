"""Command line: argument parsing and the generate / lockfile / commit sequence."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .builder import build_files
from .layout import ts_line_count
from .steps import git_commit, write_lockfile, write_tree

DESCRIPTION = "Generate a deterministic TypeScript monorepo (npm workspaces + project references)."


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--lines", type=int, required=True, help="approximate lines of TS")
    parser.add_argument("--packages", type=int, required=True, help="number of workspaces")
    parser.add_argument("--seed", type=int, required=True, help="random seed")
    parser.add_argument("--lockfile", action="store_true", help="write package-lock.json (npm)")
    parser.add_argument("--git", action="store_true", help="git init + deterministic commit")
    parser.add_argument("--force", action="store_true", help="replace a non-empty --out")
    args = parser.parse_args(argv)
    if args.lines < 1 or args.packages < 1:
        parser.error("--lines and --packages must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    files = build_files(args.lines, args.packages, args.seed)
    write_tree(args.out, files, args.force)
    elapsed = time.monotonic() - started
    if args.lockfile:
        write_lockfile(args.out)
    commit = ""
    if args.git:
        message = (
            f"Generated monorepo (--lines {args.lines} --packages {args.packages} "
            f"--seed {args.seed})"
        )
        commit = f", commit {git_commit(args.out, message)[:12]}"
    total = len(files) + (1 if args.lockfile else 0)
    lines = ts_line_count(files)
    print(
        f"{args.out}: {total} files, {lines} lines of TypeScript, "
        f"{args.packages} packages (seed {args.seed}, generated in {elapsed:.1f}s{commit})"
    )
    if abs(lines - args.lines) > args.lines / 10:
        print(
            f"warning: {lines} lines is more than 10% off --lines {args.lines}; every package "
            "holds at least one module (about 200 lines), so use --lines >= 250 * --packages",
            file=sys.stderr,
        )
    return 0
