"""The pipeline: Planner → decomposition → Coder ⇄ tests → Reviewer, with the Debugger routing
a fix to the stage that owns it when a stage it attaches to runs out of attempts.

Every stage walks its own attempt ladder (``StagePlan.attempts``); each attempt is bounded by the
stage's timeout and every token counts against the run's meter. A ladder that runs out raises
``Exhausted``; ``run`` decides between the Debugger and the stage's ``on_exhaust``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from harness.budget.guard import Guard
from harness.config.schema import DEFAULT_REPO_MAP_TOKENS, SandboxConfig
from harness.pipeline import as_committed
from harness.pipeline.agent import AgentOutcome, AgentTask, AttemptEnv, run_attempt
from harness.pipeline.events import AttemptRecord, Ending, Exhausted, Recorder, Status
from harness.pipeline.handover import (
    checks_section,
    diff_section,
    failure,
    summary_of,
    test_output,
    tests_passed,
)
from harness.pipeline.manifest import (
    Decomposition,
    Diagnosis,
    Manifest,
    Review,
    SubTicket,
    decompose,
    manifest_problems,
)
from harness.pipeline.mcp_tools import ToolHub
from harness.pipeline.prompts import (
    Prompt,
    coder_prompt,
    debugger_prompt,
    for_surface,
    planner_prompt,
    reviewer_prompt,
)
from harness.pipeline.roles import CODER_ROLE, PLANNER_ROLE, REVIEWER_ROLE, Role, debugger_role
from harness.pipeline.target import (
    Target,
    acceptance_problems,
    candidates,
    candidates_section,
    declared_target,
    initial_target,
)
from harness.pipeline.ticket import Ticket
from harness.pipeline.tools import REPO_MAP, RUN_TESTS, SPECS, Toolbox
from harness.repomap import RepoMap
from harness.sandbox.base import Sandbox
from harness.sandbox.testrun import Judge, Scope, TestRun, link_dependencies, run_tests
from harness.stages.load import RunPlan
from harness.stages.plan import Attempt, StagePlan

MAX_TURNS = 60
MAP_TOOL_ROLES = ("planner", "coder")  # stages that get the repo_map tool when there is a map
WORK_LIMIT = 20_000  # characters of the diff so far a Coder attempt is shown
DEBUG_DIFF_LIMIT, REVIEW_DIFF_LIMIT = 30_000, 60_000
NO_CHANGE = ("Your attempt left the repository unchanged. The ticket asks for a change, and an "
             "empty diff never resolves it: make the change, then call `finish`.")


@dataclass
class Pipeline:
    plan: RunPlan
    ticket: Ticket
    sandbox: Sandbox
    sandbox_cfg: SandboxConfig
    guard: Guard  # the caps, the calibrated ceiling and rambling: may the run go on?
    recorder: Recorder
    conventions: str | None = None
    mcp: dict[str, ToolHub] = field(default_factory=dict)  # by stage role
    repo_map: RepoMap | None = None  # the base commit's map: the Planner's prompt, repo_map tool
    judge: Judge | None = None  # the baseline at the base commit and the target tests
    target: Target | None = None  # the tests the ticket must make pass, and why
    manifest: Manifest | None = None
    decomposition: Decomposition | None = None
    briefs: dict[str, str] = field(default_factory=dict)
    last_failure: str = ""
    diagnoses: list[Diagnosis] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)  # the Reviewer's, for its re-review
    passed: set[str] = field(default_factory=set)  # sub-tickets of this plan that passed
    redo: set[str] = field(default_factory=set)  # passed ones the Debugger sends back
    _debugger_calls: int = 0
    _rounds: dict[str, int] = field(default_factory=dict)  # ladder walks per label prefix
    _memo: dict[str, str] = field(default_factory=dict)
    _checking: tuple[str, bool] = ("coder", True)  # the sub-ticket run_tests judges, and how

    def run(self) -> Ending:
        """Raises only ``RunStopped`` (a cap) and ``SandboxError``."""
        self._baseline()
        return self.run_from("planner")

    def run_from(self, stage: str) -> Ending:
        """The stages from ``stage`` on (``planner``, ``coder``, ``reviewer``): a resumed run
        enters at the stage that surfaced (harness/pipeline/resume.py)."""
        while True:
            try:
                if stage == "planner":
                    self._run_planner()
                if stage in ("planner", "coder"):
                    self._code_all()
                self._review()
                return Ending("resolved")
            except Exhausted as exc:
                diagnosis = self._debug(exc)
                if diagnosis is None:
                    return self._exhaust(exc)
                self.briefs[diagnosis.owner] = diagnosis.brief
                self.redo = set(diagnosis.sub_tickets)
                stage = "planner" if diagnosis.owner == "planner" else "coder"
                if stage == "planner":
                    self.sandbox.reset()  # the new plan starts from the base commit
                    link_dependencies(self.sandbox)  # the reset removed untracked links

    # -- stages --------------------------------------------------------------------------------

    def _run_planner(self) -> None:
        stage = self.plan.stages["planner"]
        brief = self.briefs.pop("planner", None)
        prefix = self._round("planner")
        repo_map = self._map_text()
        for attempt in stage.attempts:
            label = f"{prefix}/a{attempt.number}"
            out = self._attempt(stage, attempt, label, PLANNER_ROLE,
                                planner_prompt(self.ticket, brief, repo_map,
                                               candidates_section(self._candidates())))
            problems = self._manifest_problems(out)
            if out.outcome == "done" and not problems:
                assert isinstance(out.result, Manifest)
                self._accept_manifest(out.result)
                self._record(stage, attempt, label, out, "accepted")
                return
            brief = "; ".join(problems) if problems else failure(out)
            self._record(stage, attempt, label, out,
                         "invalid_manifest" if problems else out.outcome, detail=brief)
            self.last_failure = f"planner attempt {attempt.number}: {brief}"
        raise Exhausted("planner", self.last_failure)

    def _manifest_problems(self, out: AgentOutcome) -> list[str]:
        if out.outcome != "done" or not isinstance(out.result, Manifest):
            return []
        return [*manifest_problems(out.result, self.sandbox.exists),
                *acceptance_problems(out.result, self._candidates())]

    def _candidates(self) -> tuple[str, ...]:
        return candidates(self.ticket, self.judge.baseline if self.judge else None)

    def _set_target(self, target: Target) -> None:
        self.target = target
        if self.judge is not None:
            self.judge.fail_to_pass = target.tests
        self.recorder.update(target=target.as_dict())
        self.recorder.event("target", **target.as_dict())

    def _accept_manifest(self, manifest: Manifest) -> None:
        self._set_target(declared_target(self.ticket, self.judge.baseline if self.judge else None,
                                         manifest))
        self.manifest = manifest
        self.passed.clear()
        self.decomposition = decompose(manifest)
        self.recorder.update(manifest=manifest.model_dump(),
                             decomposition=self.decomposition.as_dict())
        self.recorder.event("decomposition", **self.decomposition.as_dict())
        self.guard.decomposed(self.decomposition.as_dict())  # the cap follows it (re-plans too)

    def _code_all(self) -> None:
        assert self.manifest is not None
        assert self.decomposition is not None
        by_id = {t.id: t for t in self.manifest.sub_tickets}
        brief = self.briefs.pop("coder", None)
        order = self.decomposition.order
        for tid in order:  # a routed round redoes only what has not passed, or what it names
            if tid in self.passed and tid not in self.redo and tid != order[-1]:
                continue
            self._code(by_id[tid], brief=brief, full_suite=tid == order[-1])
            self.passed.add(tid)
        self.redo.clear()

    def _code(self, sub: SubTicket, *, brief: str | None, full_suite: bool) -> None:
        """``full_suite``: the last sub-ticket (or a review fix), judged as the whole ticket: a
        non-empty diff, the target tests passing, the full suite. An earlier sub-ticket is
        judged on "no new failures" only (the target may need a later one)."""
        assert self.manifest is not None
        stage = self.plan.stages["coder"]
        feedback: str | None = None
        tests_ran = True
        said: str | None = None
        before = self.sandbox.diff()  # earlier sub-tickets' work, shown to the first attempt
        work = diff_section("The work so far (earlier sub-tickets)", before, WORK_LIMIT) \
            if before.strip() else None
        prefix = self._round(f"coder/{sub.id}")
        self._checking = (prefix, full_suite)
        checks = checks_section(self.sandbox_cfg, self.target.tests if self.target else (),
                                full_suite)
        for attempt in stage.attempts:
            label = f"{prefix}/a{attempt.number}"
            prompt = coder_prompt(self.ticket, self.manifest, sub, brief=brief, feedback=feedback,
                                  tests_ran=tests_ran, work=work, previous=said, checks=checks)
            out = self._attempt(stage, attempt, label, CODER_ROLE, prompt)
            patch = self.sandbox.diff()
            diff = self.recorder.attempt_diff(label.replace("/", "-"), patch)
            unchanged = out.outcome == "done" and full_suite and not patch.strip()
            runs = self._tests(label, full_suite) if out.outcome == "done" and not unchanged \
                else []
            failed = next((r for r in runs if not r.passed), None)
            if out.outcome == "done" and failed is None and not unchanged:
                self._record(stage, attempt, label, out, "passed", tests=runs, diff=diff)
                return
            feedback = NO_CHANGE if unchanged else failed.feedback() if failed else failure(out)
            tests_ran = failed is not None
            said, work = summary_of(out), diff_section("The work so far", patch, WORK_LIMIT)
            outcome = "no_change" if unchanged else "tests_failed" if failed else out.outcome
            self._record(stage, attempt, label, out, outcome, detail=feedback[:500], tests=runs,
                         diff=diff)
            self.last_failure = f"{label}: {feedback}"
        raise Exhausted("coder", self.last_failure)

    def _baseline(self) -> None:
        """The suite at the base commit, before any stage runs (cached across runs)."""
        link_dependencies(self.sandbox)  # before any model call, even with a cached baseline
        found = self.judge.prepare(self.sandbox, self.sandbox_cfg) if self.judge else None
        if found is not None:
            self.recorder.update(baseline=found.summary())
            self.recorder.event("baseline", cached=found.cached, usable=found.usable,
                                exit_code=found.exit_code, failing=list(found.failing)[:20])
        self._set_target(initial_target(self.ticket, found))

    def _verify(self, scope: str) -> str:
        """The run_tests tool: the tests as the attempt will be judged, run now."""
        label, full_suite = self._checking
        label = f"{label}/run_tests"
        run = self._run_tests(label, "full" if scope == "full" else "affected",
                              self._judge_for(full_suite))
        self._keep(label, run)
        return f"{'PASSED' if run.passed else 'FAILED'} ({run.scope} run)\n{run.feedback()}"

    def _judge_for(self, full_suite: bool) -> Judge | None:
        if self.judge is not None and not full_suite:  # an earlier sub-ticket: no new failures
            return replace(self.judge, fail_to_pass=())
        return self.judge

    def _tests(self, label: str, full_suite: bool) -> list[TestRun]:
        judge = self._judge_for(full_suite)
        runs = [self._run_tests(label, "affected", judge)]
        if runs[0].passed and full_suite and runs[0].scope != "full":
            runs.append(self._run_tests(label, "full", judge))
        if runs[-1].passed and full_suite and judge is not None:  # the target, unedited
            runs += filter(None, [as_committed.check(self.sandbox, self.sandbox_cfg, judge,
                                                     self.sandbox.diff())])
        for run in runs:
            self._keep(label, run)
        return runs

    def _run_tests(self, label: str, scope: Scope, judge: Judge | None) -> TestRun:
        self.recorder.event("tests_start", label=label, scope=scope)  # a live display's cue
        return run_tests(self.sandbox, self.sandbox_cfg, scope, judge_by=judge)

    def _keep(self, label: str, run: TestRun) -> None:
        path = self.recorder.test_output(f"{label.replace('/', '-')}-{run.scope}", run.command,
                                         test_output(run))
        verdict = run.verdict.as_dict() if run.verdict else None
        self.recorder.event("tests", label=label, scope=run.scope, passed=run.passed,
                            seconds=round(run.result.duration, 3),
                            failing=[t.name for t in run.report.failing][:20], output=path,
                            verdict=verdict)

    def _review(self) -> None:
        stage = self.plan.stages.get("reviewer")
        if stage is None:
            return
        assert self.manifest is not None
        prefix = self._round("reviewer")
        for attempt in stage.attempts:
            prompt = reviewer_prompt(
                self.ticket, self.manifest,
                diff_section("The change", self.sandbox.diff(), REVIEW_DIFF_LIMIT),
                self.conventions, tests=tests_passed(self.target.tests if self.target else ()),
                earlier="\n".join(self.findings) or None)
            label = f"{prefix}/a{attempt.number}"
            out = self._attempt(stage, attempt, label, REVIEWER_ROLE, prompt)
            if out.outcome != "done":
                self._record(stage, attempt, label, out, out.outcome, detail=failure(out))
                continue
            assert isinstance(out.result, Review)
            if out.result.verdict == "approve":
                self._record(stage, attempt, label, out, "approved")
                return
            findings = "\n".join(f"- {f.path}{f':{f.line}' if f.line else ''}: {f.message}"
                                 for f in out.result.findings) or "- (no findings given)"
            self._record(stage, attempt, label, out, "request_changes", detail=findings)
            self.findings.append(findings)
            self.last_failure = f"reviewer requested changes:\n{findings}"
            if attempt.number == len(stage.attempts):
                break
            fix = SubTicket(id="review", title="Address the review",
                            description="The Reviewer requested changes:\n" + findings)
            self._code(fix, brief=None, full_suite=True)
        raise Exhausted("reviewer", self.last_failure)

    def _debug(self, exc: Exhausted) -> Diagnosis | None:
        stage = self.plan.stages.get("debugger")
        if stage is None or exc.stage not in stage.attaches_to or not stage.can_route_to:
            return None
        if self._debugger_calls >= len(stage.attempts):
            return None
        attempt = stage.attempts[self._debugger_calls]
        self._debugger_calls += 1
        role = debugger_role(tuple(stage.can_route_to))
        evidence = (f"{exc.evidence}\n\n"
                    f"{diff_section('Current diff', self.sandbox.diff(), DEBUG_DIFF_LIMIT)}")
        prompt = debugger_prompt(self.ticket, exc.stage, evidence, self.manifest,
                                 self.decomposition)
        label = f"debugger/a{attempt.number}"
        out = self._attempt(stage, attempt, label, role, prompt)
        if out.outcome != "done" or out.result is None:
            self._record(stage, attempt, label, out, out.outcome, detail=failure(out))
            return None
        diagnosis = Diagnosis.model_validate(out.result.model_dump())
        self.diagnoses.append(diagnosis)
        self._record(stage, attempt, label, out, f"routed:{diagnosis.owner}",
                     detail=diagnosis.root_cause)
        self.recorder.event("routed", failing=exc.stage, owner=diagnosis.owner,
                            root_cause=diagnosis.root_cause)
        return diagnosis

    def _exhaust(self, exc: Exhausted) -> Ending:
        policy = self.plan.stages[exc.stage].config.on_exhaust
        status: Status = "needs_human" if policy == "surface_to_human" else "halted"
        return Ending(status, exc.stage, exc.evidence)

    # -- attempts ------------------------------------------------------------------------------

    def _round(self, prefix: str) -> str:
        """A label prefix unique in the run: a second walk of the same ladder (a re-plan, a
        fresh Coder round after routing or review) is ``…/r2``."""
        self._rounds[prefix] = self._rounds.get(prefix, 0) + 1
        n = self._rounds[prefix]
        return prefix if n == 1 else f"{prefix}/r{n}"

    def _map_text(self) -> str:
        """The map of the ticket for the Planner's prompt, once per run (re-plans reuse it, so
        their prompt cache still holds)."""
        if "planner_map" not in self._memo:
            budget = self.plan.stages["planner"].config.repo_map_tokens
            self._memo["planner_map"] = "" if self.repo_map is None else self.repo_map.render(
                self.ticket.text(), DEFAULT_REPO_MAP_TOKENS if budget is None else budget)
        return self._memo["planner_map"]

    def _attempt(self, stage: StagePlan, attempt: Attempt, label: str, role: Role,
                 prompt: Prompt) -> AgentOutcome:
        box = role.box
        if self.repo_map is not None and stage.role in MAP_TOOL_ROLES:
            box = Toolbox((*box.specs[:-1], SPECS[REPO_MAP], box.specs[-1]), box.terminal)
        verify = self._verify if stage.role == "coder" and self.sandbox_cfg.test_command \
            else None
        if verify is not None:
            box = Toolbox((*box.specs[:-1], SPECS[RUN_TESTS], box.specs[-1]), box.terminal)
        system, prompt = for_surface(attempt.vendor.surface, role.system, prompt)
        task = AgentTask(stage.role, label, attempt, system, prompt, box, role.result,
                         stage.timeout, stage.config.max_turns or MAX_TURNS, role.text_is_result,
                         tuple(stage.config.mcp_servers))
        env = AttemptEnv(self.sandbox, self.guard.meter, self.recorder, self.mcp.get(stage.role),
                         self.repo_map, verify=verify)
        out = run_attempt(task, env)
        if out.stopped is not None:  # a cap: the attempt's spend goes on record, the run stops
            self._record(stage, attempt, label, out, out.stopped.status, detail=str(out.stopped),
                         watch=False)
            raise out.stopped
        return out

    def _record(self, stage: StagePlan, attempt: Attempt, label: str, out: AgentOutcome,
                outcome: str, *, detail: str = "", tests: list[TestRun] | None = None,
                diff: str | None = None, watch: bool = True) -> None:
        paths = [f"{r.scope}: {'passed' if r.passed else 'failed'}" for r in tests or []]
        record = AttemptRecord(
            stage.role, attempt.number, label, attempt.tier, attempt.vendor.name, attempt.model_id,
            str(attempt.control) if attempt.control else None, out.usage,
            out.tokens, round(out.cost_usd, 6), out.duration_s, out.turns, outcome,
            detail[:2000], paths, diff, out.served)
        self.recorder.attempt(record)
        self.recorder.event("attempt_end", stage=stage.role, attempt=attempt.number,
                            outcome=outcome, tokens=out.tokens, cost_usd=out.cost_usd)
        if watch:  # may the run go on after this attempt?
            self.guard.after_attempt(stage.role, out.tokens)
