"""Data model shared by the builder, the templates and the file writers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from random import Random

from .tsfmt import count_lines, render

SCOPE = "@mono"


def package_dir(number: int) -> str:
    return f"pkg-{number:02d}"


def package_name(number: int) -> str:
    return f"{SCOPE}/{package_dir(number)}"


@dataclass(frozen=True)
class Names:
    topic: str  # kebab-case, globally unique, e.g. "daily-invoice"
    stem: str  # module file name without extension, e.g. "daily-invoice-store"

    @property
    def words(self) -> str:
        return self.topic.replace("-", " ")

    @property
    def pascal(self) -> str:
        return "".join(part[:1].upper() + part[1:] for part in self.topic.split("-"))

    @property
    def camel(self) -> str:
        return self.pascal[:1].lower() + self.pascal[1:]

    @property
    def upper(self) -> str:
        return self.topic.replace("-", "_").upper()

    @property
    def abbr(self) -> str:
        return "".join(part[:1] for part in self.topic.split("-") if part[:1].isalpha())

    def values(self) -> dict[str, str]:
        return {
            "P": self.pascal,
            "C": self.camel,
            "U": self.upper,
            "T": self.words,
            "STEM": self.stem,
        }


@dataclass
class Core:
    """The template part of a module: source, test body and what the test imports."""

    source: str
    test: str
    exports: list[str]  # runtime (value) exports, checked by the package's index test
    test_imports: list[str]  # names the test file imports from the module (may use `type X`)

    @classmethod
    def rendered(
        cls,
        templates: tuple[str, str],
        values: dict[str, str],
        exports: list[str],
        test_imports: list[str],
    ) -> Core:
        """Fill the (source, test) template pair with `values`."""
        source, test = templates
        return cls(render(source, values), render(test, values), exports, test_imports)


CoreBuilder = Callable[[Random, Names], Core]


@dataclass(frozen=True)
class Kind:
    """A family of module templates."""

    suffix: str  # appended to the topic to make the module stem
    blurb: str  # module header text; `{t}` is the topic in words
    build: CoreBuilder


@dataclass
class Rule:
    name: str
    package: int
    stem: str
    fn: Callable[[int], int]

    @property
    def call_ts(self) -> str:
        """How a rule of another module calls this one."""
        return f"{self.name}(input % 1000)"

    def call(self, value: int) -> int:
        """Python mirror of :attr:`call_ts`."""
        return self.fn(value % 1000)


@dataclass
class Module:
    stem: str
    source: str
    test: str
    exports: list[str]
    rules: list[Rule]
    imported_packages: set[int]

    @property
    def lines(self) -> int:
        return count_lines(self.source) + count_lines(self.test)


@dataclass
class PackagePlan:
    number: int
    candidates: list[int]  # lower-numbered packages this one may import from
    modules: list[Module] = field(default_factory=list)

    @property
    def name(self) -> str:
        return package_name(self.number)

    @property
    def dir(self) -> str:
        return package_dir(self.number)

    @property
    def deps(self) -> list[int]:
        return sorted(set().union(*(m.imported_packages for m in self.modules)))
