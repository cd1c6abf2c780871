"""scripts/gen-monorepo.py: deterministic, sized, acyclic, fully tested output (no network)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import shutil
import sys
from graphlib import TopologicalSorter
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "gen-monorepo.py"
IMPORT_FROM = re.compile(r'^(?:import|export)\b[^;]*?\bfrom "([^"]+)";', re.MULTILINE | re.DOTALL)
PACKAGE = re.compile(r"packages/pkg-(\d+)/")


def load() -> ModuleType:
    """Run the entry point (it puts scripts/ on sys.path), then return its `genmono` package."""
    spec = importlib.util.spec_from_file_location("gen_monorepo", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return importlib.import_module("genmono")


gen = load()


def tree_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def ts_lines(files: dict[str, str]) -> int:
    return sum(text.count("\n") for path, text in files.items() if path.endswith(".ts"))


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    return dict(gen.build_files(6000, 6, 11))


def test_same_seed_gives_an_identical_tree(tmp_path: Path) -> None:
    args = ["--lines", "2500", "--packages", "4", "--seed", "3"]
    assert gen.main(["--out", str(tmp_path / "a"), *args]) == 0
    assert gen.main(["--out", str(tmp_path / "b"), *args]) == 0
    assert tree_hash(tmp_path / "a") == tree_hash(tmp_path / "b")


def test_different_seed_gives_a_different_tree(tmp_path: Path) -> None:
    gen.main(["--out", str(tmp_path / "a"), "--lines", "2500", "--packages", "4", "--seed", "3"])
    gen.main(["--out", str(tmp_path / "b"), "--lines", "2500", "--packages", "4", "--seed", "4"])
    assert tree_hash(tmp_path / "a") != tree_hash(tmp_path / "b")


@pytest.mark.parametrize(("lines", "packages"), [(1500, 2), (3000, 4), (12000, 7), (100000, 40)])
def test_line_count_is_within_ten_percent(lines: int, packages: int) -> None:
    files = gen.build_files(lines, packages, 5)
    assert abs(ts_lines(files) - lines) <= lines * 0.10
    assert {m.group(1) for p in files if (m := PACKAGE.match(p))} == {
        f"{n:02d}" for n in range(1, packages + 1)
    }


def test_summary_line_and_no_npm_or_git_without_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"unexpected subprocess: {args}")

    monkeypatch.setattr(gen.steps.subprocess, "run", forbidden)
    out = tmp_path / "repo"
    assert gen.main(["--out", str(out), "--lines", "2000", "--packages", "3", "--seed", "1"]) == 0
    summary = capsys.readouterr().out.strip()
    assert len(summary.splitlines()) == 1
    written = sum(1 for p in out.rglob("*") if p.is_file())
    ts = sum(p.read_text().count("\n") for p in out.rglob("*.ts"))
    assert f"{written} files, {ts} lines of TypeScript, 3 packages" in summary
    assert not (out / "package-lock.json").exists()
    assert not (out / ".git").exists()


def test_refuses_a_non_empty_directory_unless_forced(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("x")
    args = ["--out", str(tmp_path), "--lines", "800", "--packages", "1", "--seed", "1"]
    with pytest.raises(SystemExit, match="not empty"):
        gen.main(args)
    assert gen.main([*args, "--force"]) == 0
    assert not (tmp_path / "keep.txt").exists()


def package_imports(files: dict[str, str]) -> dict[int, set[int]]:
    graph: dict[int, set[int]] = {}
    for path, text in files.items():
        match = PACKAGE.match(path)
        if match is None or not path.endswith(".ts"):
            continue
        own = int(match.group(1))
        graph.setdefault(own, set())
        for spec in IMPORT_FROM.findall(text):
            if spec.startswith("@mono/"):
                graph[own].add(int(spec.removeprefix("@mono/pkg-")))
    return graph


def test_imports_only_lower_numbered_packages(files: dict[str, str]) -> None:
    graph = package_imports(files)
    assert graph[1] == set()
    assert any(graph.values()), "expected some cross-package imports"
    for package, deps in graph.items():
        assert all(dep < package for dep in deps), (package, deps)
    list(TopologicalSorter(graph).static_order())  # raises CycleError on a cycle


def test_manifests_and_references_match_the_imports(files: dict[str, str]) -> None:
    graph = package_imports(files)
    root_refs = json.loads(files["tsconfig.json"])["references"]
    assert [r["path"] for r in root_refs] == [f"packages/pkg-{n:02d}" for n in sorted(graph)]
    for package, deps in graph.items():
        base = f"packages/pkg-{package:02d}"
        manifest = json.loads(files[f"{base}/package.json"])
        tsconfig = json.loads(files[f"{base}/tsconfig.json"])
        assert manifest["name"] == f"@mono/pkg-{package:02d}"
        assert manifest.get("dependencies", {}) == {f"@mono/pkg-{d:02d}": "*" for d in deps}
        assert [r["path"] for r in tsconfig["references"]] == [f"../pkg-{d:02d}" for d in deps]
        options = tsconfig["compilerOptions"]
        assert options["composite"] is True
        assert options["strict"] is True
        assert (options["outDir"], options["module"], options["target"]) == (
            "dist",
            "commonjs",
            "es2020",
        )
        assert "node --test" in manifest["scripts"]["test"]


def test_root_manifest(files: dict[str, str]) -> None:
    root = json.loads(files["package.json"])
    assert root["private"] is True
    assert root["workspaces"] == ["packages/*"]
    assert re.fullmatch(r"5\.\d+\.\d+", root["devDependencies"]["typescript"])
    assert root["scripts"]["build"] == "tsc -b"
    assert root["scripts"]["test"].startswith("tsc -b && node --test ")


def test_every_module_has_a_test_that_imports_it(files: dict[str, str]) -> None:
    sources = {p for p in files if p.endswith(".ts") and not p.endswith(".test.ts")}
    tests = {p for p in files if p.endswith(".test.ts")}
    assert sources
    assert {s.removesuffix(".ts") + ".test.ts" for s in sources} == tests
    for test in tests:
        stem = test.rsplit("/", 1)[1].removesuffix(".test.ts")
        text = files[test]
        assert f'from "./{stem}";' in text
        assert 'from "node:test";' in text
        assert "assert." in text


def test_git_commit_is_deterministic(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    heads = []
    for name in ("a", "b"):
        out = tmp_path / name
        gen.write_tree(out, gen.build_files(800, 2, 9), force=False)
        heads.append(gen.git_commit(out, "Generated monorepo"))
    assert heads[0] == heads[1]
    assert re.fullmatch(r"[0-9a-f]{40}", heads[0])
