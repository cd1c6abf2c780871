"""Plans the packages and their modules; the whole tree is a pure function of its inputs."""

from __future__ import annotations

from random import Random

from .layout import repo_files
from .model import Module, Names, PackagePlan, Rule, package_name
from .rules import RULE_SHAPES, rule_test, rule_text
from .sources import module_source, package_lines, test_source
from .templates import KINDS
from .words import NOUNS, QUALIFIERS, RULE_VERBS


class RepoBuilder:
    def __init__(self, lines: int, packages: int, seed: int) -> None:
        self.rng = Random(seed)
        self.lines = lines
        self.count = packages
        self.seed = seed
        self.topics: set[str] = set()
        self.rules: dict[int, list[Rule]] = {}  # accepted rules per package

    # -- names
    def new_topic(self) -> str:
        for _ in range(40):
            noun = self.rng.choice(NOUNS)
            topic = noun if self.rng.random() < 0.3 else f"{self.rng.choice(QUALIFIERS)}-{noun}"
            if topic not in self.topics:
                break
        serial = 2
        base = topic
        while topic in self.topics:
            topic, serial = f"{base}-{serial}", serial + 1
        self.topics.add(topic)
        return topic

    # -- modules
    def pick_callee(self, plan: PackagePlan, local: list[Rule], unused: set[int]) -> Rule | None:
        rng = self.rng
        if unused and rng.random() < 0.8:
            return rng.choice(self.rules[rng.choice(sorted(unused))])
        if rng.random() < 0.45:
            return None
        pool = list(local)
        for dep in plan.candidates:
            pool.extend(self.rules[dep])
        return rng.choice(pool) if pool else None

    def build_module(self, plan: PackagePlan, kind_name: str, unused: set[int]) -> Module:
        rng = self.rng
        kind = KINDS[kind_name]
        names = Names(topic := self.new_topic(), f"{topic}-{kind.suffix}")
        core = kind.build(rng, names)
        local = [r for m in plan.modules for r in m.rules]
        imports: dict[str, set[str]] = {}
        imported: set[int] = set()
        rules: list[Rule] = []
        parts: list[str] = []
        for verb in rng.sample(RULE_VERBS, rng.randint(1, 3)):
            callee = self.pick_callee(plan, local + rules, unused - imported)
            if callee is not None and callee.stem != names.stem:
                if callee.package == plan.number:
                    spec = f"./{callee.stem}"
                else:
                    spec = package_name(callee.package)
                    imported.add(callee.package)
                imports.setdefault(spec, set()).add(callee.name)
            shape = rng.choice(sorted(RULE_SHAPES))
            body, fn = RULE_SHAPES[shape][1](rng, callee)
            rule = Rule(f"{names.camel}{verb}", plan.number, names.stem, fn)
            parts.append(rule_text(rule.name, shape, body, callee))
            rules.append(rule)
        source = module_source(plan, names, kind, imports=imports, core=core.source, rules=parts)
        tests = [rule_test(r, rng) for r in rules]
        rule_names = [r.name for r in rules]
        test = test_source(names, core.test_imports + rule_names, core.test, tests)
        return Module(names.stem, source, test, core.exports + rule_names, rules, imported)

    def build_package(self, plan: PackagePlan, target_end: int, done: int) -> None:
        kinds = sorted(KINDS)
        self.rng.shuffle(kinds)
        unused = set(plan.candidates)
        while True:
            kind = kinds[len(plan.modules) % len(kinds)]
            module = self.build_module(plan, kind, unused)
            now = done + package_lines(plan.modules)
            after = done + package_lines([*plan.modules, module])
            if plan.modules and abs(after - target_end) >= abs(now - target_end):
                return
            plan.modules.append(module)
            unused -= module.imported_packages
            self.rules.setdefault(plan.number, []).extend(module.rules)

    def build(self) -> dict[str, str]:
        weights = [self.rng.uniform(0.75, 1.25) for _ in range(self.count)]
        plans: list[PackagePlan] = []
        done, cumulative = 0, 0.0
        for number in range(1, self.count + 1):
            lower = list(range(1, number))
            candidates = sorted(self.rng.sample(lower, min(len(lower), self.rng.randint(1, 3))))
            plan = PackagePlan(number, candidates)
            cumulative += weights[number - 1]
            self.build_package(plan, round(self.lines * cumulative / sum(weights)), done)
            done += package_lines(plan.modules)
            plans.append(plan)
        return repo_files(plans, self.seed)


def build_files(lines: int, packages: int, seed: int) -> dict[str, str]:
    """The generated tree as {relative path: content}; a pure function of its arguments."""
    if lines < 1 or packages < 1:
        raise ValueError("--lines and --packages must be positive")
    return RepoBuilder(lines, packages, seed).build()
