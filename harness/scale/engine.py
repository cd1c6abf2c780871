"""``harness batch --engine ray``: the batch's tickets as Ray tasks over a cluster.

Each ticket is one task that needs one ``harness_slot`` (a custom resource each node offers as
``harness worker start --slots N``), so a node runs at most N tickets, each against its own
Docker engine. The driver (this process) keeps the batch's record exactly as the local engine
does — results.jsonl as each ticket finishes, the run directories (copied back from the nodes),
predictions, caps, resume — and holds a placeholder of every run in flight, under a lease, so a
run whose node dies ends ``interrupted`` here while Ray retries the ticket elsewhere (bounded by
``max_retries``). A ticket whose retries are spent gets no row: the next batch runs it.

Secrets: the env vars the stages file names for keys reach the ticket tasks as their runtime
environment only — never as task arguments.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray
import ray.exceptions
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from harness.calibration.history_db import HistoryError
from harness.calibration.runtime import RunHistory, prepare
from harness.errors import HarnessError, WorkspaceError
from harness.runs.batch import (
    STAGGER_S,
    BatchSpec,
    BatchState,
    Listener,
    append_result,
    result_row,
)
from harness.runs.history import read_run
from harness.runs.record import RUN_JSON, write_json_atomic
from harness.runs.tickets import BatchItem
from harness.sandbox.lease import Lease
from harness.sandbox.workspace import open_repo, resolve_base
from harness.scale.bundle import pack_bundle
from harness.scale.ledger import Ledger, Started
from harness.scale.node import SLOT
from harness.scale.task import ConfigFiles, Outcome, TicketJob, run_ticket, unpack_run
from harness.stages import RunPlan, load_plan

POLL_S = 0.2
_log = logging.getLogger(__name__)


class ClusterError(HarnessError, RuntimeError):
    """No Ray cluster to run on, or one that cannot run tickets."""


@dataclass(frozen=True)
class RayEngine:
    """An ``Engine`` for ``run_batch``; ``address`` as ``ray.init`` takes it (None: the
    cluster this machine belongs to)."""

    address: str | None = None
    max_retries: int = 2  # reruns of a ticket whose node or worker process died

    def __call__(self, spec: BatchSpec, state: BatchState, todo: Sequence[BatchItem],
                 on_change: Listener | None) -> None:
        connect(self.address)
        try:
            _Driver(spec, state, on_change, self.max_retries, load_plan(spec.config)).run(todo)
        finally:
            ray.shutdown()


def connect(address: str | None) -> None:
    where = address or "this machine's cluster"
    if address:
        _reachable(address)
    try:
        ray.init(address=address or "auto", logging_level=logging.WARNING,
                 log_to_driver=False)  # nodes' output would tear the progress display
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ClusterError(f"no Ray cluster at {where} ({exc}) — start one with "
                           "`harness worker start --head --slots N` (docs/scale-out.md)") from None
    if ray.cluster_resources().get(SLOT, 0) < 1:
        ray.shutdown()
        raise ClusterError(f"the Ray cluster at {where} has no node that runs tickets (no "
                           f"`{SLOT}` resource) — join one with `harness worker start --slots N`")


def _reachable(address: str) -> None:
    """Fail in seconds on an address nothing listens at (ray.init would retry for minutes)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=10).close()
    except (OSError, ValueError) as exc:
        raise ClusterError(f"no Ray head answers at {address} ({exc}) — start one there with "
                           "`harness worker start --head --slots N`") from None


def node_slots() -> dict[str, int]:
    return {str(n["NodeID"]): int(n["Resources"].get(SLOT, 0)) for n in ray.nodes()
            if n["Alive"]}


def secret_env(plan: RunPlan, environ: Mapping[str, str]) -> dict[str, str]:
    """The variables the stages file names (or defaults) for keys, as set here."""
    names = sorted({a.api_key_env for stage in plan.stages.values() for a in stage.attempts})
    return {name: environ[name] for name in names if name in environ}


def config_files(config: Path, plan: RunPlan) -> ConfigFiles:
    """The stages file and what its sandbox section names by a path inside its directory."""
    root = config.resolve().parent
    sandbox = plan.config.sandbox
    named = [sandbox.dockerfile,
             None if sandbox.extra_ca_certs in {"auto", "none"} else sandbox.extra_ca_certs]
    files = [(config.name, config.read_bytes())]
    for rel in filter(None, named):
        path = (root / rel).resolve()
        if path.is_file() and path.is_relative_to(root):
            files.append((str(path.relative_to(root)), path.read_bytes()))
    return ConfigFiles(config.name, tuple(files))


@dataclass
class _Placeholder:
    ticket: str
    lease: Lease


@dataclass
class _Driver:
    spec: BatchSpec
    state: BatchState
    on_change: Listener | None
    max_retries: int
    plan: RunPlan
    placeholders: dict[str, _Placeholder] = field(default_factory=dict)  # by run id
    recorded: set[str] = field(default_factory=set)
    ledger: Any = None
    repos: dict[str, Path] = field(default_factory=dict)  # by ticket
    histories: dict[Path, RunHistory | None] = field(default_factory=dict)  # by repository

    def run(self, todo: Sequence[BatchItem]) -> None:
        here = ray.get_runtime_context().get_node_id()
        self.ledger = ray.remote(Ledger).options(
            num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False),
        ).remote(self.spec.cost_cap_usd, self.spec.token_cap, cost_usd=self.state.cost_usd,
                 tokens=self.state.tokens, stagger_s=STAGGER_S, slots=node_slots())
        env = secret_env(self.plan, os.environ)
        pending: dict[Any, str] = {}
        try:
            for job, bundle in self._jobs(todo, config_files(self.spec.config, self.plan)):
                pending[self._submit(job, bundle, env)] = job.item.ticket.id
            self._follow(pending)
        except BaseException:
            for ref in pending:
                ray.cancel(ref)  # their runs end interrupted on the nodes
            raise
        finally:
            for run_id in list(self.placeholders):
                self._interrupted(run_id)

    def _jobs(self, todo: Sequence[BatchItem], config: ConfigFiles
              ) -> Iterator[tuple[TicketJob, Any]]:
        """One job per ticket (yielded as made, so the first tickets start while later commits
        are packed), one bundle per base commit; a repository or base that cannot be resolved
        here is that ticket's error row, as it would be in a local batch."""
        bundles: dict[str, Any] = {}
        for item in todo:
            repo = self.repos[item.ticket.id] = item.repo or self.spec.repo
            try:
                commit = resolve_base(open_repo(repo), item.ticket.base or "HEAD")
            except WorkspaceError as exc:
                self._record(result_row(item, None, "error", str(exc), 0.0))
                continue
            if commit not in bundles:
                bundles[commit] = ray.put(pack_bundle(repo, commit))
            ticket = (item.ticket.model_copy(update={"base": commit}) if item.ticket.base
                      else item.ticket)  # the node's clone knows the commit, not the ref
            yield TicketJob(BatchItem(ticket), commit, config), bundles[commit]

    def _submit(self, job: TicketJob, bundle: Any, env: dict[str, str]) -> Any:
        options: dict[str, Any] = {"num_cpus": 0, "resources": {SLOT: 1},
                                   "max_retries": self.max_retries,
                                   "name": f"ticket {job.item.ticket.id}"}
        if env:
            options["runtime_env"] = {"env_vars": env}
        return ray.remote(run_ticket).options(**options).remote(job, [bundle], self.ledger)

    def _follow(self, pending: dict[Any, str]) -> None:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_S)
            for note in ray.get(self.ledger.drain.remote()):
                self._started(note)
            for ref in ready:
                ticket = pending.pop(ref)
                try:
                    outcome: Outcome = ray.get(ref)
                except ray.exceptions.RayError as exc:  # no row: the next batch reruns it
                    _log.warning("ticket %s lost: %s", ticket, str(exc).splitlines()[0])
                    self._lost(ticket)
                    continue
                self._finished(outcome)

    def _started(self, note: Started) -> None:
        if note.ticket in self.recorded or note.run_id in self.placeholders:
            return
        self._settle(note.ticket)  # a retry started: the earlier attempt is gone
        run_dir = self.spec.runs_dir / note.run_id
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / RUN_JSON).write_bytes(note.run_json)
        lease = Lease(run_dir)
        lease.__enter__()  # held for the remote run: alive here while it lives there
        self.placeholders[note.run_id] = _Placeholder(note.ticket, lease)
        with self.state.lock:
            self.state.running.add(note.ticket)
        self._changed()

    def _finished(self, outcome: Outcome) -> None:
        if outcome.row is None:
            with self.state.lock:
                self.state.not_started.append(outcome.ticket)
            self._changed()
            return
        row = outcome.row
        if outcome.ticket in self.recorded:  # a task Ray ran again to rebuild a lost result
            return
        if row["run_dir"] in self.placeholders:
            self.placeholders.pop(str(row["run_dir"])).lease.__exit__(None, None, None)
        if outcome.run_tar:
            self._adopt(unpack_run(outcome.run_tar, self.spec.runs_dir),
                        self.repos[outcome.ticket])
        self._record(row)

    def _adopt(self, run_dir: Path, repo: Path) -> None:
        """The run, now here: its paths name this machine's repository, stages file and run
        directory (so `harness reproduce` finds them), and it joins its project's history here,
        as a local batch's runs do (a node has neither the history nor the project's identity:
        its clone holds one commit)."""
        state = read_run(run_dir)
        if state is None:
            return
        state.update(repo=str(repo.resolve()), config_file=str(self.spec.config.resolve()),
                     run_dir=str(run_dir.resolve()))
        history = self._history(repo)
        if history is not None:
            state["history"] = history.record(state)
        write_json_atomic(run_dir / RUN_JSON, state)

    def _history(self, repo: Path) -> RunHistory | None:
        if repo not in self.histories:
            try:
                self.histories[repo] = prepare(
                    self.plan.config, repo.resolve(),
                    config_dir=self.spec.config.resolve().parent, home=self.spec.history_home)
            except HistoryError:  # an unusable history file: the runs still count
                self.histories[repo] = None
        return self.histories[repo]

    def _record(self, row: dict[str, Any]) -> None:
        ticket = str(row["ticket"])
        self.recorded.add(ticket)
        self._settle(ticket)
        append_result(self.spec.runs_dir, row)
        with self.state.lock:
            self.state.running.discard(ticket)
            self.state.done.append(row)
        self._changed()

    def _lost(self, ticket: str) -> None:
        self._settle(ticket)
        with self.state.lock:
            self.state.running.discard(ticket)
            self.state.lost.append(ticket)
        self._changed()

    def _settle(self, ticket: str) -> None:
        for run_id, held in list(self.placeholders.items()):
            if held.ticket == ticket:
                self._interrupted(run_id)

    def _interrupted(self, run_id: str) -> None:
        """The placeholder of a run that will not come back: ``interrupted``, as a local run
        killed mid-way is after the fact."""
        held = self.placeholders.pop(run_id)
        run_dir = self.spec.runs_dir / run_id
        data = read_run(run_dir)
        if data is not None and data.get("status") == "running":
            data["status"] = "interrupted"
            write_json_atomic(run_dir / RUN_JSON, data)
        held.lease.__exit__(None, None, None)
        if data is None:
            shutil.rmtree(run_dir, ignore_errors=True)

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self.state)
