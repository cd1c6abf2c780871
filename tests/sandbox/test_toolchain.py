"""What a repository's own files say about its Node and package manager (no Docker here)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.sandbox.semver import as_range, intervals, within_major
from harness.sandbox.toolchain import Repo, detect
from tests.sandbox.conftest import make_repo


def repo(files: dict[str, str | dict[str, object]]) -> Repo:
    text = {p: (v if isinstance(v, str) else json.dumps(v)) for p, v in files.items()}
    return Repo(frozenset(text), text)


@pytest.mark.parametrize(("wanted", "major", "spec"), [
    (">=20.19", 22, ">=22.0.0 <23.0.0-0"),
    ("^18 || ^20", 20, ">=20.0.0 <21.0.0-0"),
    (">=20.19 <21", 20, ">=20.19.0 <21.0.0-0"),
    ("18.x", 18, ">=18.0.0 <19.0.0-0"),
    ("~20.11.1", 20, ">=20.11.1 <20.12.0-0"),
    ("16 - 18", 18, ">=18.0.0 <19.0.0-0"),
    (">= 18.17.0", 22, ">=22.0.0 <23.0.0-0"),
    ("*", 22, ">=22.0.0 <23.0.0-0"),
])
def test_engines_ranges_pick_the_preferred_major_they_admit(wanted: str, major: int,
                                                            spec: str) -> None:
    chain = detect(repo({"package.json": {"engines": {"node": wanted}}}))
    assert chain.node.value == spec
    assert f"newest {major}.x" in chain.node.why


def test_semver_intervals() -> None:
    assert intervals("^0.2.3") == [((0, 2, 3), (0, 3, 0))]
    assert intervals(">1.2") == [((1, 3, 0), (1 << 30, 0, 0))]
    assert intervals("<=1.2.3") == [((0, 0, 0), (1, 2, 4))]
    assert intervals(">=3 <2") == []
    assert within_major("^20 || ^22", 21) == []
    assert as_range(within_major("^20.5 || ^22", 20)) == ">=20.5.0 <21.0.0-0"


@pytest.mark.parametrize(("files", "node", "why"), [
    ({".nvmrc": "v20.11.1\n"}, "20.11.1", ".nvmrc: v20.11.1"),
    ({".nvmrc": "# pinned\nlts/iron\n"}, "20", ".nvmrc: lts/iron"),
    ({".nvmrc": "lts/*"}, "24", ".nvmrc: lts/*"),
    ({".node-version": "18"}, "18", ".node-version: 18"),
    ({".tool-versions": "python 3.11\nnodejs 22.3.0\n"}, "22.3.0", ".tool-versions"),
    ({"package.json": {"volta": {"node": "20.9.0"}, "engines": {"node": ">=18"}}}, "20.9.0",
     "volta.node"),
    ({".nvmrc": "20", "package.json": {"engines": {"node": ">=22"}}}, "20", ".nvmrc"),
    ({"package.json": {"name": "x"}}, "22", "default"),
])
def test_node_pins_in_order(files: dict[str, str | dict[str, object]], node: str,
                            why: str) -> None:
    chain = detect(repo(files))
    assert chain.node.value == node
    assert why in chain.node.why


def test_the_config_overrides_the_repository() -> None:
    chain = detect(repo({".nvmrc": "20"}), node="system")
    assert (chain.node.value, chain.node.why) == ("system", "sandbox.node: system")


PNPM9 = "lockfileVersion: '9.0'\n\nsettings:\n  autoInstallPeers: true\n"
BERRY = '__metadata:\n  version: 8\n  cacheKey: 10c0\n\n"is-number@npm:7.0.0":\n'
CLASSIC = "# yarn lockfile v1\n\n\nis-number@7.0.0:\n  version \"7.0.0\"\n"


@pytest.mark.parametrize(("files", "manager", "install"), [
    ({"package.json": {"packageManager": "pnpm@8.15.9+sha512.abc"}, "pnpm-lock.yaml": PNPM9},
     "pnpm@8.15.9+sha512.abc", "pnpm install --frozen-lockfile"),
    ({"package.json": {}, "pnpm-lock.yaml": PNPM9}, "pnpm@9", "pnpm install --frozen-lockfile"),
    ({"package.json": {}, "pnpm-lock.yaml": "lockfileVersion: 5.4\n"}, "pnpm@7",
     "pnpm install --frozen-lockfile"),
    ({"package.json": {}, "pnpm-lock.yaml": "lockfileVersion: '6.0'\n"}, "pnpm@8",
     "pnpm install --frozen-lockfile"),
    ({"package.json": {}, "yarn.lock": BERRY}, "yarn@4", "yarn install --immutable"),
    ({"package.json": {}, "yarn.lock": CLASSIC}, "yarn@1",
     "yarn install --non-interactive --frozen-lockfile"),
    ({"package.json": {}, "package-lock.json": "{}"}, "npm", "npm ci --no-audit --no-fund"),
    ({"package.json": {"volta": {"yarn": "1.22.19"}}, "yarn.lock": CLASSIC}, "yarn@1.22.19",
     "yarn install --non-interactive --frozen-lockfile"),
    ({"package.json": {"dependencies": {"a": "1"}}}, "npm",
     "npm install --no-package-lock --no-audit --no-fund"),
])
def test_package_manager_and_install(files: dict[str, str | dict[str, object]], manager: str,
                                     install: str) -> None:
    chain = detect(repo(files))
    assert chain.manager.value == manager
    assert chain.install is not None
    assert chain.install.value == install


def test_nothing_to_install_without_a_lockfile_or_dependencies() -> None:
    chain = detect(repo({"package.json": {"name": "x", "scripts": {"test": "node --test"}}}))
    assert chain.install is None
    assert "install: nothing" in "\n".join(chain.lines())
    assert detect(repo({"package.json": {}}), setup_command="make deps").install is not None


def test_workspace_packages_count_as_declaring_dependencies() -> None:
    chain = detect(repo({"package.json": {"workspaces": ["packages/*"]},
                         "packages/a/package.json": {"dependencies": {"b": "1"}}}))
    assert chain.install is not None


def test_yarn_berry_plug_and_play_installs_node_modules() -> None:
    pnp = detect(repo({"package.json": {"packageManager": "yarn@4.5.3"}, "yarn.lock": BERRY}))
    assert pnp.env == {"YARN_NODE_LINKER": "node-modules"}
    assert any("nodeLinker node-modules" in n for n in pnp.notes)
    linked = detect(repo({"package.json": {"packageManager": "yarn@4.5.3"}, "yarn.lock": BERRY,
                          ".yarnrc.yml": "nodeLinker: node-modules\n"}))
    assert linked.env == {}
    classic = detect(repo({"package.json": {"packageManager": "yarn@1.22.22"}}))
    assert classic.env == {}


def test_bun_is_said_to_be_unsupported() -> None:
    chain = detect(repo({"package.json": {"packageManager": "bun@1.1.0"}, "bun.lockb": ""}))
    assert chain.manager.value == "npm"
    assert any("bun" in n for n in chain.notes)


def test_key_files_are_manifests_lockfiles_and_manager_settings() -> None:
    r = repo({"package.json": {}, "packages/a/package.json": {}, "yarn.lock": CLASSIC,
              ".yarnrc.yml": "", ".npmrc": "", "patches/a+1.0.0.patch": "",
              ".yarn/releases/yarn-4.5.3.cjs": "", "src/index.ts": "",
              "node_modules/x/package.json": {}, "docs/package.md": ""})
    assert r.key_files() == sorted([
        ".npmrc", ".yarn/releases/yarn-4.5.3.cjs", ".yarnrc.yml", "package.json",
        "packages/a/package.json", "patches/a+1.0.0.patch", "yarn.lock"])


def test_an_unreadable_manifest_is_an_empty_one() -> None:
    chain = detect(repo({"package.json": "{not json"}))
    assert chain.manager.value == "npm"
    assert chain.node.value == "22"


def test_harness_sandbox_detect_says_what_and_why(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # not the project's checkout, whose stages.yaml is refused
    repo = make_repo(tmp_path / "r", {
        "package.json": json.dumps({"engines": {"node": ">=20.19"},
                                    "packageManager": "pnpm@9.15.9"}),
        "pnpm-lock.yaml": PNPM9, ".npmrc": "auto-install-peers=true\n"})
    os.symlink("/etc/hostname", repo / ".nvmrc")  # uncommitted, and a link: never read
    result = CliRunner().invoke(main, ["sandbox", "detect", "--repo", str(repo)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "node: >=22.0.0 <23.0.0-0  (package.json engines.node: >=20.19 → the newest 22.x it "
        "admits)",
        "package manager: pnpm@9.15.9  (package.json packageManager)",
        "install: pnpm install --frozen-lockfile  (pnpm-lock.yaml with pnpm)",
        "keyed by: .npmrc, package.json, pnpm-lock.yaml"]
    dirty = CliRunner().invoke(main, ["sandbox", "detect", "--repo", str(repo),
                                      "--include-uncommitted"])
    assert dirty.output == result.output
    config = tmp_path / "stages.yaml"
    config.write_text("planner: {vendor: anthropic, model: sonnet, timeout: 60s}\n"
                      "coder: {vendor: anthropic, model: sonnet, timeout: 60s}\n"
                      "sandbox: {node: '20'}\n")
    pinned = CliRunner().invoke(main, ["sandbox", "detect", "--repo", str(repo), "-c",
                                       str(config)])
    assert pinned.output.splitlines()[0] == "node: 20  (sandbox.node: 20)", pinned.output
