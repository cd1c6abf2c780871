"""Import specifiers -> files: what TypeScript and bundlers resolve, on in-memory trees."""

from __future__ import annotations

import json

import pytest

from harness.repomap.resolve import Resolver, build_resolver, loads_jsonc

FILES = ["src/a.ts", "src/b/index.tsx", "src/esm.ts", "src/d.d.ts", "lib/x.ts",
         "packages/ui/src/index.ts", "packages/ui/src/button.tsx", "packages/ui/src/theme/dark.ts",
         "packages/core/source/main.ts", "apps/web/src/page.ts", "apps/web/src/lib/util.ts"]


def resolver(manifests: dict[str, object] | None = None,
             tsconfigs: dict[str, str] | None = None) -> Resolver:
    return build_resolver(FILES, {p: json.dumps(m) for p, m in (manifests or {}).items()},
                          tsconfigs or {})


@pytest.mark.parametrize(("importer", "spec", "expected"), [
    ("src/a.ts", "./b", "src/b/index.tsx"),
    ("src/a.ts", "./esm.js", "src/esm.ts"),  # ESM TypeScript imports .js for .ts
    ("src/a.ts", "./d", "src/d.d.ts"),
    ("src/b/index.tsx", "../a", "src/a.ts"),
    ("src/a.ts", "./missing", None),
    ("src/a.ts", "node:fs", None),
    ("src/a.ts", "react", None),  # not a workspace package: not our code
])
def test_relative_and_external(importer: str, spec: str, expected: str | None) -> None:
    assert resolver().resolve(importer, spec) == expected


def test_workspace_packages_by_exports_main_and_subpath() -> None:
    r = resolver({
        "packages/ui/package.json": {"name": "@acme/ui", "exports": {
            ".": {"types": "./dist/index.d.ts", "import": "./dist/index.mjs"},
            "./theme/*": {"default": "./dist/theme/*.js"}}},
        "packages/core/package.json": {"name": "@acme/core", "main": "lib/main.js",
                                       "source": "source/main.ts"},
        "packages/core-extra/package.json": {"name": "@acme/core-extra"},
    })
    assert r.resolve("apps/web/src/page.ts", "@acme/ui") == "packages/ui/src/index.ts"
    assert r.resolve("apps/web/src/page.ts", "@acme/ui/theme/dark") == (
        "packages/ui/src/theme/dark.ts")
    assert r.resolve("apps/web/src/page.ts", "@acme/ui/button") == "packages/ui/src/button.tsx"
    assert r.resolve("apps/web/src/page.ts", "@acme/core") == "packages/core/source/main.ts"


def test_tsconfig_paths_base_url_and_extends() -> None:
    tsconfigs = {
        "tsconfig.base.json": '{"compilerOptions": {"baseUrl": ".", // comment\n'
                              '  "paths": {"~lib/*": ["lib/*"],}}}',
        "apps/web/tsconfig.json": '{"extends": "../../tsconfig.base.json", /* c */\n'
                                  '  "compilerOptions": {"paths": {"@/*": ["./src/*"]}}}',
        "tsconfig.json": '{"extends": "./tsconfig.base"}',
    }
    r = resolver(tsconfigs=tsconfigs)
    # apps/web: its own paths (relative to the inherited baseUrl, the repository root)
    assert r.resolve("apps/web/src/page.ts", "@/lib/util") is None
    assert r.resolve("src/a.ts", "~lib/x") == "lib/x.ts"  # root tsconfig extends the base
    assert r.resolve("src/a.ts", "src/esm") == "src/esm.ts"  # baseUrl alone
    r2 = resolver(tsconfigs={"apps/web/tsconfig.json":
                             '{"compilerOptions": {"paths": {"@/*": ["./src/*"]}}}'})
    assert r2.resolve("apps/web/src/page.ts", "@/lib/util") == "apps/web/src/lib/util.ts"


def test_jsonc() -> None:
    assert loads_jsonc('{"a": "http://x//y", /* b */ "c": [1, 2,],} // end') == {
        "a": "http://x//y", "c": [1, 2]}
    with pytest.raises(ValueError, match="Expecting"):
        loads_jsonc("{not json")


def test_broken_manifests_are_skipped() -> None:
    r = build_resolver(FILES, {"packages/ui/package.json": "{broken"},
                       {"tsconfig.json": "[1, 2"})
    assert r.resolve("src/a.ts", "./b") == "src/b/index.tsx"
