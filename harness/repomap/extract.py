"""One file's facts, from tree-sitter: its top-level and exported symbols with signatures, the
module specifiers it imports, and its words for lexical matching.

tree-sitter recovers from syntax errors, so a half-written file still yields what it declares;
bytes that are not UTF-8 are replaced in signatures and words, never fatal.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import NamedTuple

import tree_sitter as ts
import tree_sitter_javascript
import tree_sitter_typescript

from harness.repomap import terms as terms_module
from harness.repomap.terms import term_counts


def _source_digest(*modules: str) -> str:
    """What the cache key says about the code that made the facts: a change to the extractor
    or to the word splitting must not meet facts an older version cached."""
    digest = hashlib.sha256()
    for module in modules:
        digest.update(Path(module).read_bytes())
    return digest.hexdigest()[:12]


EXTRACTOR_VERSION = _source_digest(__file__, terms_module.__file__)
MAX_BYTES = 1_000_000  # larger files are generated or bundled; indexed by path only
SIGNATURE_CHARS = 160

LANGUAGES = {".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "tsx",
             ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript",
             ".jsx": "javascript"}

_DECLARATIONS = {
    "function_declaration": "function", "generator_function_declaration": "function",
    "function_signature": "function", "class_declaration": "class",
    "abstract_class_declaration": "class", "interface_declaration": "interface",
    "type_alias_declaration": "type", "enum_declaration": "enum", "module": "namespace",
    "internal_module": "namespace",
}
_MEMBERS = {"method_definition": "method", "abstract_method_signature": "method",
            "method_signature": "method", "public_field_definition": "field"}
_FUNCTION_VALUES = {"arrow_function", "function_expression", "function", "generator_function"}
_IMPORTS_COMMON = """
(import_statement source: (string (string_fragment) @src))
(export_statement source: (string (string_fragment) @src))
(call_expression function: (import) arguments: (arguments (string (string_fragment) @src)))
(call_expression function: (identifier) @fn arguments: (arguments . (string (string_fragment) @src))
 (#eq? @fn "require"))
"""
_IMPORTS_TS = "(import_require_clause source: (string (string_fragment) @src))"


class Symbol(NamedTuple):  # a tuple: thousands are rebuilt from the cache per build
    name: str
    kind: str  # function, class, interface, type, enum, namespace, const, let, var, method, ...
    line: int  # 1-based
    signature: str
    exported: bool = False
    parent: str | None = None  # the class a method or field belongs to


class Import(NamedTuple):
    """One module a file uses. ``names``: what it takes (``default``, ``a``, ``a:b`` for a
    re-export of a as b); empty for the whole module (``import * as``, ``export *``, a side
    effect, ``require``, ``import()``). A re-export passes names on to the file's importers."""

    spec: str
    names: tuple[str, ...] = ()
    reexport: bool = False


@dataclass(frozen=True)
class FileFacts:
    symbols: tuple[Symbol, ...] = ()
    imports: tuple[Import, ...] = ()
    terms: dict[str, int] = field(default_factory=dict)
    lines: int = 0
    syntax_errors: bool = False
    skipped: str | None = None  # why the file is indexed by its path only


def language_of(path: str) -> str | None:
    if path.endswith(".d.ts"):
        return "typescript"
    dot = path.rfind(".")
    return LANGUAGES.get(path[dot:]) if dot > path.rfind("/") else None


def extract(data: bytes, language: str) -> FileFacts:
    """The facts of one file's bytes in ``language`` (a value of ``LANGUAGES``)."""
    lines = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    if len(data) > MAX_BYTES:
        return FileFacts(lines=lines, skipped=f"larger than {MAX_BYTES} bytes")
    if len(data) > 20_000 and lines < len(data) / 1_000:
        return FileFacts(lines=lines, skipped="minified (lines over 1,000 characters)")
    tree = _parser(language).parse(data)
    root = tree.root_node
    symbols = list(_symbols(root, data))
    exported, commonjs = _export_clause_names(root)
    if exported or commonjs:
        symbols = [s if s.exported or s.parent or s.name not in exported | commonjs else
                   Symbol(s.name, s.kind, s.line,
                          ("export " if s.name in exported else "") + s.signature, True)
                   for s in symbols]
    return FileFacts(tuple(symbols), _imports(root, data, language),
                     dict(term_counts(data.decode("utf-8", "replace"))), lines, root.has_error)


@cache
def _language(language: str) -> ts.Language:
    if language == "javascript":
        return ts.Language(tree_sitter_javascript.language())
    return ts.Language(tree_sitter_typescript.language_tsx() if language == "tsx"
                       else tree_sitter_typescript.language_typescript())


def parse(data: bytes, language: str) -> ts.Tree:
    """The syntax tree of ``data`` in one of ``LANGUAGES``' languages."""
    return _parser(language).parse(data)


@cache
def _parser(language: str) -> ts.Parser:
    return ts.Parser(_language(language))


@cache
def _import_query(language: str) -> ts.Query:
    source = _IMPORTS_COMMON + ("" if language == "javascript" else _IMPORTS_TS)
    return ts.Query(_language(language), source)


def _imports(root: ts.Node, data: bytes, language: str) -> tuple[Import, ...]:
    found: list[Import] = []
    for node in root.named_children:
        source = node.child_by_field_name("source") if node.type in (
            "import_statement", "export_statement") else None
        if source is not None:
            found.append(_statement_import(node, _text(source).strip("'\"`")))
    if b"require" not in data and b"import(" not in data and b"import (" not in data:
        return tuple(found)  # no whole-module import outside the top-level statements
    seen = {i.spec for i in found}
    captures = ts.QueryCursor(_import_query(language)).captures(root)
    for spec_node in sorted(captures.get("src", []), key=lambda n: n.start_byte):
        spec = _text(spec_node)
        if spec not in seen:  # require(), import(), import x = require(): the whole module
            seen.add(spec)
            found.append(Import(spec))
    return tuple(found)


def _statement_import(node: ts.Node, spec: str) -> Import:
    names: list[str] = []
    whole = False
    for child in node.named_children:
        if child.type == "import_clause":
            for part in child.named_children:
                if part.type == "identifier":
                    names.append("default")
                elif part.type == "named_imports":
                    names += [_text(n) for n in _specifiers(part, "import_specifier")]
                else:  # namespace_import
                    whole = True
        elif child.type == "export_clause":
            for spec_node in child.named_children:
                if spec_node.type == "export_specifier":
                    name = spec_node.child_by_field_name("name")
                    alias = spec_node.child_by_field_name("alias")
                    original = _text(name) if name is not None else "default"
                    names.append(f"{original}:{_text(alias)}" if alias is not None
                                 else original)
        elif child.type == "namespace_export":  # export * as ns from: ns is the module
            names.append("*:" + _text(child.named_children[0]) if child.named_children else "*")
    reexport = node.type == "export_statement"
    return Import(spec, () if whole else tuple(names), reexport)


def _specifiers(named: ts.Node, kind: str) -> Iterator[ts.Node]:
    for spec_node in named.named_children:
        name = spec_node.child_by_field_name("name") if spec_node.type == kind else None
        if name is not None:
            yield name


def _text(node: ts.Node) -> str:
    return (node.text or b"").decode("utf-8", "replace")


def _symbols(root: ts.Node, data: bytes) -> Iterator[Symbol]:
    for node in root.named_children:
        yield from _declared(node, data, prefix="")


def _declared(node: ts.Node, data: bytes, prefix: str) -> Iterator[Symbol]:
    kind = node.type
    if kind == "export_statement":
        decl = node.child_by_field_name("declaration")
        default = any(c.type == "default" for c in node.children)
        word = "export default " if default else "export "
        if decl is not None:
            yield from _declared(decl, data, prefix=word)
        elif default and (value := node.child_by_field_name("value")) is not None:
            yield Symbol("default", "default", node.start_point.row + 1,
                         _signature(data, node, value.child_by_field_name("body")), True)
    elif kind == "ambient_declaration":
        for child in node.named_children:
            yield from _declared(child, data, prefix=prefix + "declare ")
    elif kind == "expression_statement" and node.named_child_count == 1:
        yield from _declared(node.named_children[0], data, prefix)  # `namespace N {}`
    elif kind == "assignment_expression":
        yield from _commonjs(node, data)
    elif kind in _DECLARATIONS:
        yield from _declaration(node, data, prefix)
    elif kind in ("lexical_declaration", "variable_declaration"):
        yield from _variables(node, data, prefix)


def _declaration(node: ts.Node, data: bytes, prefix: str) -> Iterator[Symbol]:
    name = node.child_by_field_name("name")
    if name is None:
        return
    title = _text(name).strip("'\"")
    body = node.child_by_field_name("body")
    kind = _DECLARATIONS[node.type]
    yield Symbol(title, kind, node.start_point.row + 1,
                 # a type alias is its definition: shown whole, up to the signature's length
                 prefix + _signature(data, node, body if kind != "type" else None),
                 bool(prefix.strip()))
    if kind == "class" and body is not None:
        yield from _members(body, data, title)


def _commonjs(node: ts.Node, data: bytes) -> Iterator[Symbol]:
    """``exports.name = ...`` and ``module.exports.name = ...``: CommonJS's exports."""
    left, value = node.child_by_field_name("left"), node.child_by_field_name("right")
    target = _text(left) if left is not None else ""
    if left is None or value is None or not target.startswith(("exports.", "module.exports.")):
        return
    name = target.rsplit(".", 1)[1]
    function = value.type in _FUNCTION_VALUES
    cut = value.child_by_field_name("body") if function else value
    yield Symbol(name, "function" if function else "const", node.start_point.row + 1,
                 _signature(data, node, cut).rstrip(" ="), True)


def _members(body: ts.Node, data: bytes, parent: str) -> Iterator[Symbol]:
    for member in body.named_children:
        kind = _MEMBERS.get(member.type)
        name = member.child_by_field_name("name") if kind else None
        if kind is None or name is None:
            continue
        title = _text(name)
        if title.startswith("#") or any(c.type == "accessibility_modifier" and
                                        _text(c) == "private" for c in member.children):
            continue
        cut = member.child_by_field_name("body" if kind == "method" else "value")
        yield Symbol(title, kind, member.start_point.row + 1, _signature(data, member, cut),
                     parent=parent)


def _variables(node: ts.Node, data: bytes, prefix: str) -> Iterator[Symbol]:
    keyword = _text(node.children[0]) if node.children else "const"
    for declarator in node.named_children:
        name = declarator.child_by_field_name("name")
        if declarator.type != "variable_declarator" or name is None:
            continue
        value = declarator.child_by_field_name("value")
        cut = value
        if value is not None and (value.type in _FUNCTION_VALUES or value.type == "class"):
            cut = value.child_by_field_name("body")
        sig = _signature(data, declarator, cut).rstrip(" =")
        kind = "function" if value is not None and value.type in _FUNCTION_VALUES else keyword
        for title in _names(name):
            yield Symbol(title, kind, declarator.start_point.row + 1,
                         f"{prefix}{keyword} {sig}", bool(prefix.strip()))


def _names(pattern: ts.Node) -> Iterator[str]:
    """The names a binding introduces (``const {a, b: [c]} = ...`` binds a and c)."""
    if pattern.type in ("identifier", "shorthand_property_identifier_pattern"):
        yield _text(pattern)
        return
    for child in pattern.named_children:
        if child.type == "pair_pattern":
            value = child.child_by_field_name("value")
            if value is not None:
                yield from _names(value)
        elif child.type != "property_identifier":
            yield from _names(child)


def _signature(data: bytes, node: ts.Node, cut: ts.Node | None) -> str:
    end = cut.start_byte if cut is not None and cut.start_byte > node.start_byte else (
        node.end_byte)
    text = " ".join(data[node.start_byte:min(end, node.start_byte + 4 * SIGNATURE_CHARS)]
                    .decode("utf-8", "replace").split())
    return text if len(text) <= SIGNATURE_CHARS else text[:SIGNATURE_CHARS - 1] + "…"


def _export_clause_names(root: ts.Node) -> tuple[set[str], set[str]]:
    """Names a local ``export { a, b as c }`` (no ``from``) makes public, and those
    ``module.exports = { a, b }`` does."""
    names: set[str] = set()
    commonjs: set[str] = set()
    for node in root.named_children:
        assignment = node.named_children[0] if (node.type == "expression_statement" and
                                                node.named_child_count == 1) else None
        if assignment is not None and assignment.type == "assignment_expression":
            commonjs |= _module_exports_object(assignment)
        if node.type != "export_statement" or node.child_by_field_name("source") is not None:
            continue
        for clause in node.named_children:
            if clause.type != "export_clause":
                continue
            for spec in clause.named_children:
                name = spec.child_by_field_name("name")
                if name is not None:
                    names.add(_text(name))
    return names, commonjs


def _module_exports_object(assignment: ts.Node) -> set[str]:
    left, value = assignment.child_by_field_name("left"), assignment.child_by_field_name("right")
    if left is None or value is None or _text(left) != "module.exports" or value.type != "object":
        return set()
    names = set()
    for prop in value.named_children:
        if prop.type == "shorthand_property_identifier":
            names.add(_text(prop))
        elif prop.type == "pair" and (v := prop.child_by_field_name("value")) is not None and (
                v.type == "identifier"):
            names.add(_text(v))
    return names
