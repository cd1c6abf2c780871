"""One ticket as a Ray task: what runs on the node the task lands on.

The task asks the batch's ledger whether it may start, unpacks the base commit's bundle into the
node's clone (once per commit and node), writes the stages file under the node's work directory
(once per content), and runs the ticket with the local engine's own code (``batch.run_one``)
against the node's Docker engine, into a scratch runs directory of its own. The finished run
directory travels back to the driver as a tar in the task's result, and the scratch is deleted.

Nodes need no shared filesystem: the work directory is ``$HARNESS_WORKER_DIR`` (set by
``harness worker start --work-dir``), else ``~/.cache/harness/worker``.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import tarfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray

from harness.runs.batch import BatchSpec, result_row, run_one
from harness.runs.record import RUN_JSON
from harness.runs.tickets import BatchItem
from harness.sandbox.lease import LEASE
from harness.scale.bundle import node_clone
from harness.scale.ledger import Started
from harness.scale.node import work_dir

ANNOUNCE_POLL_S = 0.2


@dataclass(frozen=True)
class ConfigFiles:
    """The stages file and the files it names relative to its directory, as bytes."""

    name: str
    files: tuple[tuple[str, bytes], ...]  # (relative path, content); the stages file included

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for rel, data in sorted(self.files):
            h.update(rel.encode() + b"\0" + hashlib.sha256(data).digest())
        return h.hexdigest()[:24]

    def materialise(self, work: Path) -> Path:
        """The stages file on this node (written once per content; concurrent writers race
        harmlessly: the first rename wins and the content is the same)."""
        dest = work / "configs" / self.digest
        if not dest.is_dir():
            tmp = dest.parent / f".tmp-{uuid.uuid4().hex}"
            for rel, data in self.files:
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                (tmp / rel).write_bytes(data)
            try:
                tmp.rename(dest)
            except OSError:  # another ticket on this node wrote it first
                shutil.rmtree(tmp, ignore_errors=True)
        return dest / self.name


@dataclass(frozen=True)
class TicketJob:
    item: BatchItem  # its ticket's base, when it names one, is already the commit id
    commit: str
    config: ConfigFiles


@dataclass(frozen=True)
class Outcome:
    ticket: str
    node: str
    row: dict[str, Any] | None  # None: not started, a batch cap was reached
    run_tar: bytes = b""  # the run directory (gzipped tar); empty when there is none


def run_ticket(job: TicketJob, bundle: list[Any], ledger: Any) -> Outcome:
    """The task body. ``bundle`` wraps the bundle's object ref in a list so Ray does not fetch
    it before the task starts: a node that has the commit already never downloads it."""
    ticket = job.item.ticket.id
    node = str(ray.get_runtime_context().get_node_id())
    delay = ray.get(ledger.admit.remote(ticket, node))
    if delay is None:
        return Outcome(ticket, node, None)
    time.sleep(delay)
    work = work_dir()
    runs = work / "runs" / uuid.uuid4().hex
    try:
        with _announce(runs, ticket, node, ledger):
            row = {**_run(job, work, runs, bundle), "node": node}
        # Counted before the slot frees, so the next ticket here is admitted against it.
        ray.get(ledger.spent.remote(float(row["cost_usd"]), int(row["tokens"])))
        run_dir = runs / str(row["run_dir"]) if row["run_dir"] else None
        return Outcome(ticket, node, row, pack_run(run_dir) if run_dir else b"")
    finally:
        shutil.rmtree(runs, ignore_errors=True)


def _run(job: TicketJob, work: Path, runs: Path, bundle: list[Any]) -> dict[str, Any]:
    started = time.monotonic()
    try:
        repo = node_clone(work, job.commit, lambda: bytes(ray.get(bundle[0])))
        config = job.config.materialise(work)
    except Exception as exc:  # this ticket cannot run here; the others still can
        return result_row(job.item, None, "error", f"{type(exc).__name__}: {exc}",
                    time.monotonic() - started)
    return run_one(BatchSpec((), repo, config, runs), BatchItem(job.item.ticket))


@contextmanager
def _announce(runs: Path, ticket: str, node: str, ledger: Any) -> Iterator[None]:
    """Tell the ledger the run's id as soon as its run directory exists (the run is the only
    one in ``runs``), so the driver can show it running and keep a placeholder of it."""
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(ANNOUNCE_POLL_S):
            found = next(runs.glob(f"*/{RUN_JSON}"), None) if runs.is_dir() else None
            if found is not None:
                with suppress(OSError):  # rewritten atomically: whole or absent
                    note = Started(ticket, node, found.parent.name, found.read_bytes())
                    ledger.started.remote(note)
                    return

    thread = threading.Thread(target=watch, name=f"announce-{ticket}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def pack_run(run_dir: Path) -> bytes:
    """The run directory as a gzipped tar, without its lease (a lock of this node's)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as tar:
        tar.add(run_dir, arcname=run_dir.name,
                filter=lambda info: None if Path(info.name).name == LEASE else info)
    return buf.getvalue()


def unpack_run(data: bytes, runs_dir: Path) -> Path:
    """Extract a packed run under ``runs_dir`` (replacing a directory of the same name)."""
    tmp = runs_dir / f".unpack-{uuid.uuid4().hex[:8]}"
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            tar.extractall(tmp, filter="data")  # no absolute paths, links out, devices
            (name,) = {Path(m.name).parts[0] for m in tar.getmembers()}
        dest = runs_dir / name
        shutil.rmtree(dest, ignore_errors=True)
        (tmp / name).rename(dest)
        return dest
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
