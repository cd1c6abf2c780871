"""``harness reproduce``: step back into a recorded run.

``reproduce`` re-creates the attempt's world — the recorded image (rebuilt, and compared, when it
is gone), a fresh worktree at the recorded base commit, the attempt's diff — and re-runs the
recorded test command. ``replay_run`` re-runs the whole pipeline with every stage on the replay
vendor. Everything is found relative to the run directory, so a copied run directory works on
another machine given the repository (``repo``).
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker

from harness.config.schema import ROLES, SandboxConfig
from harness.errors import HarnessError
from harness.pipeline.ticket import Ticket
from harness.runs.execute import RunRequest, RunResult, execute
from harness.runs.history import read_run
from harness.sandbox.docker_sandbox import DockerSandbox
from harness.sandbox.engine import connect
from harness.sandbox.session import TicketSpec, ticket_sandbox
from harness.sandbox.testreport import parse_test_output

REPLAY_TAG = "harness-replay"
_SANDBOX_DURATIONS = ("exec_timeout", "setup_timeout")  # recorded in seconds, read with a unit
_TIMING = re.compile(r"\d+\.\d+")  # durations differ on every run; they are not a difference


class RunNotFoundError(HarnessError, ValueError):
    """The run id or directory does not name a readable run."""


@dataclass(frozen=True)
class Seen:
    exit: str  # "exit 1", "timed out ..."
    failing: tuple[str, ...]
    output: str


@dataclass(frozen=True)
class Reproduction:
    label: str
    command: str
    then: Seen
    now: Seen
    image_note: str

    @property
    def reproduced(self) -> bool:
        """The failure happens again: the tests fail now, on at least one test that failed then
        (or, when no names were recorded, with the same exit)."""
        if not _failed(self.now.exit):
            return False
        if self.then.failing:
            return bool(set(self.then.failing) & set(self.now.failing))
        return self.now.exit == self.then.exit

    def first_difference(self) -> str | None:
        then, now = self.then.output.splitlines(), self.now.output.splitlines()
        for n, (a, b) in enumerate(zip(then, now, strict=False), 1):
            if _TIMING.sub("<n>", a.strip()) != _TIMING.sub("<n>", b.strip()):
                return f"line {n}:\n  then: {a}\n  now:  {b}"
        if len(then) != len(now):
            return f"then {len(then)} lines of output, now {len(now)}"
        return None


def locate_run(run: str, runs_dir: Path) -> tuple[Path, dict[str, Any]]:
    for candidate in (Path(run), runs_dir / run):
        state = read_run(candidate) if candidate.is_dir() else None
        if state is not None:
            return candidate.resolve(), state
    raise RunNotFoundError(f"no run `{run}`: pass a run directory or a run id under "
                           f"{runs_dir} (see `ls {runs_dir}`)")


def choose_attempt(state: dict[str, Any], wanted: str | None) -> dict[str, Any]:
    """By label (``coder/S1/a2``) or index in run.json (1-based); default: the last Coder attempt
    whose tests failed."""
    attempts: list[dict[str, Any]] = [a for a in state.get("attempts", []) if a.get("diff")]
    if wanted is None:
        failing = [a for a in attempts if a["outcome"] != "passed"]
        if not failing:
            raise RunNotFoundError("this run has no failing Coder attempt — choose one with "
                                   "--attempt LABEL")
        return failing[-1]
    for n, a in enumerate(state.get("attempts", []), 1):
        if wanted in (a["label"], str(n)) and a.get("diff"):
            found: dict[str, Any] = a
            return found
    labels = ", ".join(a["label"] for a in attempts) or "none"
    raise RunNotFoundError(f"no Coder attempt `{wanted}` in this run (attempts with a diff: "
                           f"{labels})")


@contextmanager
def attempt_sandbox(client: docker.DockerClient, run_dir: Path, state: dict[str, Any],
                    attempt: dict[str, Any], *, repo: Path | None) -> Iterator[
                        tuple[DockerSandbox, str]]:
    """The attempt's world: recorded image (or a rebuild), base commit, the attempt's diff."""
    cfg = _sandbox_cfg(state)
    recorded = str(state.get("image") or "")
    pinned = recorded if recorded and _has_image(client, recorded) else None
    scratch = run_dir / f"reproduce-{secrets.token_hex(3)}"
    spec = TicketSpec(repo=repo or Path(state["repo"]), run_dir=scratch,
                      run_id=scratch.name, ticket=state["ticket"]["id"],
                      base=state["base_commit"], image=pinned)
    try:
        with ticket_sandbox(client, cfg, spec, config_dir=_config_dir(state, run_dir),
                            progress=lambda _: None) as sandbox:
            now = str(sandbox.container.attrs.get("Image"))
            same = "identical" if now == recorded else "a DIFFERENT image"
            note = ("the recorded image" if pinned else
                    f"the recorded image is gone; rebuilt: {same} "
                    f"({now[:19]} vs recorded {recorded[:19] or 'none'})")
            diff = run_dir / str(attempt["diff"])
            if diff.exists() and re.search(rb"^diff --git ", diff.read_bytes(), re.M):
                sandbox.workspace.git().run("apply", "--binary", "--whitespace=nowarn", str(diff))
            yield sandbox, note
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def reproduce(client: docker.DockerClient, run_dir: Path, state: dict[str, Any],
              attempt: dict[str, Any], *, repo: Path | None = None) -> Reproduction:
    command, then = recorded_test(run_dir, attempt)
    with attempt_sandbox(client, run_dir, state, attempt, repo=repo) as (sandbox, note):
        result = sandbox.exec(command)
    report = parse_test_output(result.stdout, result.stderr, result.exit_code)
    now = Seen(_how(result.summary()), tuple(t.name for t in report.failing),
               result.stdout + result.stderr)
    return Reproduction(attempt["label"], command, then, now, note)


def recorded_test(run_dir: Path, attempt: dict[str, Any]) -> tuple[str, Seen]:
    """The attempt's last test run as recorded: its command and what it saw."""
    events = [json.loads(line) for line in (run_dir / "events.jsonl").open(encoding="utf-8")]
    runs = [e for e in events if e["event"] == "tests" and e.get("label") == attempt["label"]]
    if not runs:
        raise RunNotFoundError(f"attempt {attempt['label']} ran no tests (it ended "
                               f"{attempt['outcome']}) — nothing to reproduce")
    last = runs[-1]
    text = (run_dir / str(last["output"])).read_text(encoding="utf-8")
    first, _, rest = text.partition("\n")
    summary, _, output = rest.partition("\n")
    stdout, _, stderr = output.removeprefix("--- stdout\n").partition("\n--- stderr\n")
    output = stdout + stderr.removesuffix("\n")  # as the pipeline wrote it (record format)
    return first.removeprefix("$ "), Seen(_how(summary), tuple(last.get("failing") or ()),
                                          output)


def replay_run(run_dir: Path, state: dict[str, Any], *, repo: Path | None = None,
               client: docker.DockerClient | None = None) -> RunResult:
    """The whole pipeline again, every stage answered from this run's recorded exchanges, in
    the recorded image when the engine still has it."""
    from harness.vendors import get_vendor  # noqa: PLC0415 - only replays need it
    from harness.vendors.replay import ReplayVendor  # noqa: PLC0415

    vendor = get_vendor("replay")
    assert isinstance(vendor, ReplayVendor)
    vendor.start(run_dir)
    config = run_dir / "replay-stages.yaml"
    config.write_text(json.dumps(replay_config(state, run_dir), indent=1), encoding="utf-8")
    ticket = Ticket.model_validate(state["ticket"])
    client = client or connect()
    with _held(client, str(state.get("image") or "")) as image:
        request = RunRequest(ticket, repo or Path(state["repo"]), config, run_dir / "replays",
                             base=state["base_commit"], image=image)
        return execute(request, client=client)


@contextmanager
def _held(client: docker.DockerClient, image: str) -> Iterator[str | None]:
    """The recorded image, tagged for the replay's duration so that no gc prunes it as
    dangling meanwhile; None when the engine no longer has it (the config builds one)."""
    if not image or not _has_image(client, image):
        yield None
        return
    tag = f"{REPLAY_TAG}:{secrets.token_hex(4)}"
    try:
        client.images.get(image).tag(tag)
    except docker.errors.NotFound:  # pruned just now
        yield None
        return
    try:
        yield image
    finally:
        with suppress(docker.errors.APIError):
            client.images.remove(tag, noprune=True)


def replay_config(state: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """The recorded config with every stage (and every on_retry vendor) on ``replay`` — or
    ``replay-cli`` for a CLI vendor — sending the recorded vendor's native control."""
    config: dict[str, Any] = _strip_none(json.loads(json.dumps(state["config"])))
    for role in ROLES:
        stage = config.get(role)
        if not stage:
            continue
        for key in ("base_url", "api_key_env"):
            stage.pop(key, None)
        # Served from the recording (no server starts, no secret is needed): names only.
        stage["mcp_servers"] = [{k: s[k] for k in ("name", "command", "url") if k in s}
                                for s in stage.get("mcp_servers") or ()]
        own = stage.get("vendor_options") or {}
        retry = stage.get("on_retry") or {}
        if retry.get("vendor") or retry.get("vendor_options") is not None:
            switched = retry.get("vendor") or stage["vendor"]
            options = retry.get("vendor_options")
            if options is None:
                options = own if switched == stage["vendor"] else {}
            for key in ("base_url", "api_key_env"):
                retry.pop(key, None)
            retry.update(_replaying(run_dir, switched, options))
        fallback = stage.get("fallback")
        if fallback:  # its recorded turns are replayed too: a replay reaches no vendor
            for key in ("base_url", "api_key_env"):
                fallback.pop(key, None)
            fallback.update(_replaying(run_dir, fallback["vendor"],
                                       fallback.get("vendor_options") or {}),
                            **{k: f"{fallback[k]}s" for k in ("timeout", "call_timeout")
                               if k in fallback})
        stage.update(_replaying(run_dir, stage["vendor"], own), timeout=f"{stage['timeout']}s")
    config.get("calibration", {}).pop("history", None)  # a replay is not a new run to learn from
    if "repo_map_tokens" not in state["config"].get("planner", {}):
        config["planner"]["repo_map_tokens"] = 0  # recorded before the map: its prompt had none
    for key in _SANDBOX_DURATIONS:
        if key in config.get("sandbox", {}):
            config["sandbox"][key] = f"{config['sandbox'][key]}s"
    return config


def _replaying(run_dir: Path, vendor: str, options: dict[str, Any]) -> dict[str, Any]:
    """A stage entry's vendor keys that replay ``vendor``'s recorded exchanges."""
    from harness.vendors import get_vendor  # noqa: PLC0415 - only replays need it

    if vendor.startswith("replay"):  # a replay's own recording, replayed again
        return {"vendor": vendor, "vendor_options": {**options, "run_dir": str(run_dir)}}
    surface = get_vendor(vendor).surface
    return {"vendor": "replay-cli" if surface == "cli" else "replay",
            "vendor_options": {"run_dir": str(run_dir), "recorded_vendor": vendor,
                               "recorded_options": options}}


def _strip_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_none(v) for v in value]
    return value


def _sandbox_cfg(state: dict[str, Any]) -> SandboxConfig:
    raw = dict(state["config"].get("sandbox") or {})
    if state["ticket"].get("test_command"):
        raw["test_command"] = state["ticket"]["test_command"]
    return SandboxConfig.model_validate(
        {k: (f"{v}s" if k in _SANDBOX_DURATIONS else v) for k, v in raw.items() if v is not None})


def _config_dir(state: dict[str, Any], run_dir: Path) -> Path:
    recorded = Path(str(state.get("config_file") or "")).parent
    return recorded if recorded.is_dir() else run_dir


def _has_image(client: docker.DockerClient, image: str) -> bool:
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        return False
    return True


def _how(summary: str) -> str:
    """How a command ended, without its timing (which differs every run)."""
    return re.sub(r" after [0-9.]+s", "", summary)


def _failed(how: str) -> bool:
    return not how.startswith("exit 0")
