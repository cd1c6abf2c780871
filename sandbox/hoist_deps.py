#!/usr/bin/env python3
"""Run in a dependency image's build container, as the user the tests run as, after the install.

The ticket's worktree will be mounted over /workspace, hiding whatever the install left there. So
every node_modules the install made (the root's, and each workspace package's) moves to the same
place under /deps, keeping the layout that relative links between them rely on; links that led
into the workspace's own sources (workspace packages) now point at /workspace, where the worktree
will be; pnpm's .bin shims name their directories absolutely and are rewritten to match. Where
the node_modules were is recorded in /deps/.harness-deps.json (``link_deps.py`` links them into
the worktree), and the sources are deleted: the image keeps dependencies only.
"""

import json
import os
import re
import shutil
import sys

SRC, DST = "/workspace", "/deps"
RECORD = os.path.join(DST, ".harness-deps.json")
SHIM_MAX = 64 * 1024
_SHIM_PATH = re.compile(r"/workspace/((?:[^\s:\"'$]*/)?node_modules)\b")


def node_modules_dirs(root):
    """Directories (relative, "." for the root) that hold a node_modules of their own."""
    found = []
    for dirpath, dirnames, _ in os.walk(root):
        if "node_modules" in dirnames:
            found.append(os.path.relpath(dirpath, root))
            dirnames.remove("node_modules")
        dirnames[:] = [d for d in dirnames if d != ".git"]
    return sorted(found)


def move(found):
    for rel in found:
        os.makedirs(os.path.normpath(os.path.join(DST, rel)), exist_ok=True)
        os.rename(os.path.join(SRC, rel, "node_modules"),
                  os.path.normpath(os.path.join(DST, rel, "node_modules")))


def inside(path, roots):
    return any(path == r or path.startswith(r + "/") for r in roots)


def fix_links(found):
    """Links into the moved trees keep working (same relative layout); links into the sources
    are made absolute, at /workspace; absolute links into the moved trees follow them."""
    moved = [os.path.normpath(os.path.join(SRC, rel, "node_modules")) for rel in found]
    links = shims = 0
    for rel in found:
        for dirpath, dirnames, filenames in os.walk(os.path.normpath(os.path.join(DST, rel,
                                                                              "node_modules"))):
            for name in dirnames + filenames:
                path = os.path.join(dirpath, name)
                if os.path.islink(path):
                    links += fix_link(path, dirpath, moved)
                elif os.path.basename(dirpath) == ".bin" and name in filenames:
                    shims += fix_shim(path)
    return links, shims


def fix_link(path, dirpath, moved):
    target = os.readlink(path)
    was = SRC + dirpath[len(DST):]  # where the link's directory was when it was made
    resolved = os.path.normpath(os.path.join(was, target))
    if inside(resolved, moved):
        if not os.path.isabs(target):
            return 0
        new = DST + resolved[len(SRC):]
    elif inside(resolved, [SRC]):
        new = resolved
    else:
        return 0
    os.unlink(path)
    os.symlink(new, path)
    return 1


def fix_shim(path):
    try:
        if os.path.getsize(path) > SHIM_MAX:
            return 0
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError):
        return 0
    if not text.startswith("#!") or "/workspace/" not in text:
        return 0
    with open(path, "w", encoding="utf-8") as f:
        f.write(_SHIM_PATH.sub(r"/deps/\1", text))
    return 1


def main():
    found = node_modules_dirs(SRC)
    if not found:
        print("hoist: the install made no node_modules")
    move(found)
    links, shims = fix_links(found)
    with open(RECORD, "w") as f:
        json.dump({"node_modules": found}, f)
    for name in os.listdir(SRC):
        path = os.path.join(SRC, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    print("hoist: %d node_modules moved to /deps (%s); %d links into the sources made absolute, "
          "%d shims rewritten" % (len(found), ", ".join(found) or "-", links, shims))


if __name__ == "__main__":
    sys.exit(main())
