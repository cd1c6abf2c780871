"""The dependency build's context holds the key's files and nothing else."""

from __future__ import annotations

import json
import tarfile

from harness.sandbox.deps_context import install_context, without_own_scripts


def test_the_context_is_the_keyed_files_with_the_repositorys_own_install_scripts_taken_out(
        ) -> None:
    pkg = {"name": "x", "scripts": {"postinstall": "node evil.js", "prepare": "tsc",
                                    "test": "node --test"}}
    files = {"package.json": json.dumps(pkg).encode(), "package-lock.json": b"{}",
             "packages/a/package.json": b'{"name": "a"}', "patches/a.patch": b"diff\n"}
    with tarfile.open(fileobj=install_context(files, (1000, 1001))) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert sorted(n for n, m in members.items() if m.isfile()) == [
            "workspace/package-lock.json", "workspace/package.json",
            "workspace/packages/a/package.json", "workspace/patches/a.patch"]
        assert {(m.uid, m.gid) for m in members.values()} == {(1000, 1001)}
        assert members["node_modules"].linkname == "/deps/node_modules"
        assert members["deps"].isdir()
        root = tar.extractfile("workspace/package.json")
        assert root is not None
        assert json.loads(root.read())["scripts"] == {"test": "node --test"}
        lock = tar.extractfile("workspace/package-lock.json")
        assert lock is not None
        assert lock.read() == b"{}"


def test_a_manifest_without_install_scripts_or_not_json_is_left_as_it_is() -> None:
    for data in (b'{"scripts": {"test": "x"}}', b"not json", b"[1]", b'{"scripts": 3}'):
        assert without_own_scripts(data) == data
