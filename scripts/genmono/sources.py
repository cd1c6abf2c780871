"""Assembly of whole .ts files: module headers and imports, test files, package index."""

from __future__ import annotations

from collections.abc import Sequence

from .model import Kind, Module, Names, PackagePlan
from .tsfmt import count_lines, import_line, q

TEST_PRELUDE = ['import { describe, it } from "node:test";', 'import assert from "node:assert";']


def module_source(
    plan: PackagePlan,
    names: Names,
    kind: Kind,
    *,
    imports: dict[str, set[str]],
    core: str,
    rules: list[str],
) -> str:
    header = [
        "/**",
        f" * {names.stem}: {kind.blurb.format(t=names.words)}",
        " *",
        f" * Part of {plan.name}.",
        " */",
    ]
    ordered = sorted(imports, key=lambda spec: (spec.startswith("."), spec))
    lines = [import_line(sorted(imports[spec]), spec) for spec in ordered]
    head = "\n".join([*header, "", *lines]) + ("\n\n" if lines else "\n")
    return head + core + "\n" + "\n".join(rules)


def test_source(names: Names, imported: list[str], core_test: str, rule_tests: list[str]) -> str:
    head = [*TEST_PRELUDE, "", import_line(imported, "./" + names.stem), ""]
    return "\n".join(head) + "\n" + core_test + "\n" + "\n".join(rule_tests)


def index_files(package: str, modules: Sequence[Module]) -> tuple[str, str]:
    """src/index.ts (re-exports every module) and its test."""
    index = "\n".join(
        [
            f"/** Public API of {package}. */",
            "",
            *[f"export * from {q('./' + m.stem)};" for m in modules],
            "",
        ]
    )
    exported = [name for m in modules for name in m.exports]
    test = "\n".join(
        [
            *TEST_PRELUDE,
            "",
            'import * as api from "./index";',
            "",
            f"describe({q(package + ' public API')}, () => {{",
            '  it("re-exports every module", () => {',
            "    const exported: Record<string, unknown> = api;",
            "    for (const name of [",
            *[f"      {q(name)}," for name in exported],
            "    ]) {",
            '      assert.strictEqual(typeof exported[name], "function", name);',
            "    }",
            "  });",
            "});",
            "",
        ]
    )
    return index, test


def package_lines(modules: Sequence[Module]) -> int:
    """Lines of TypeScript in a package made of `modules`, index files included."""
    index = sum(count_lines(text) for text in index_files("", modules))
    return sum(m.lines for m in modules) + index
