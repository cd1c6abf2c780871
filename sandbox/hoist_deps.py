#!/usr/bin/env python3
"""Run inside the dependency image build, after the repo's install command: move
/workspace/node_modules to /node_modules so it survives the worktree being bind-mounted over
/workspace (Node and TypeScript look for node_modules in every parent directory), and make the
links into workspace packages absolute so they still point at /workspace/packages/...
"""

import os
import shutil
import sys

SRC, DST = "/workspace/node_modules", "/node_modules"


def main():
    workspace = sys.argv[1] if len(sys.argv) > 1 else "/workspace"
    if not os.path.isdir(SRC):
        print("hoist: no node_modules to move")
        return
    shutil.move(SRC, DST)
    fixed = 0
    for dirpath, dirnames, filenames in os.walk(DST):
        for name in dirnames + filenames:
            link = os.path.join(dirpath, name)
            if not os.path.islink(link):
                continue
            old_dir = SRC + dirpath[len(DST):]
            target = os.path.normpath(os.path.join(old_dir, os.readlink(link)))
            if target.startswith(workspace + "/") and not target.startswith(SRC + "/"):
                os.unlink(link)
                os.symlink(target, link)
                fixed += 1
    nested = []
    for dirpath, dirnames, _ in os.walk(workspace):
        if "node_modules" in dirnames:
            nested.append(os.path.join(dirpath, "node_modules"))
            dirnames.remove("node_modules")
    for name in os.listdir(workspace):
        path = os.path.join(workspace, name)
        shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) else os.unlink(path)
    print("hoist: moved node_modules to /node_modules, %d workspace links made absolute" % fixed)
    if nested:
        print("hoist: WARNING nested node_modules are hidden by the mounted worktree: "
              + ", ".join(nested))


if __name__ == "__main__":
    main()
