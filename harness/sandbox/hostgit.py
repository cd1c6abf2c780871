"""Git on the host for one ticket, pointed at a tree the container writes.

Everything under the work tree is hostile input, so each command:

* names the git directory and the work tree explicitly (no discovery from the tree, where the
  container could plant a ``.git`` pointing anywhere), and runs with a minimal environment (no
  inherited ``GIT_*`` variables);
* reads no system or global config (``GIT_CONFIG_NOSYSTEM``, ``GIT_CONFIG_GLOBAL=/dev/null``);
  the private directory's own config is written by us and lives outside the mount;
* turns off everything repository state could make git run: hooks, fsmonitor, external diff and
  textconv, automatic gc and maintenance, transports. Filters and diff drivers named by a
  ``.gitattributes`` in the tree have no command, because only our config could give them one.
  The private ``info/attributes`` (which outranks every ``.gitattributes``) unsets
  ``working-tree-encoding``: a file that is not valid in the encoding a hostile attribute names
  would otherwise make every ``add``, ``diff`` and ``checkout`` fail. Files go in and out as
  their bytes.

Because the git directory is explicit, git's repository-ownership check does not apply
and is not switched off.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from harness.errors import WorkspaceError

GIT_TIMEOUT = 600.0
PATCH_LIMIT = 64 << 20  # bytes: a patch over this is refused rather than held in memory
_HARDENED = (
    "core.fsmonitor=false", "core.hooksPath=/dev/null", "core.untrackedCache=false",
    "core.attributesFile=/dev/null", "core.excludesFile=/dev/null", "core.quotePath=false",
    "core.symlinks=true", "core.autocrlf=false", "gc.auto=0", "maintenance.auto=false",
    "protocol.allow=never", "commit.gpgSign=false", "advice.detachedHead=false",
)
# Highest-precedence attributes, in the private git directory (see the module docstring).
ATTRIBUTES = "* -working-tree-encoding\n"
_NO_PROGRAMS = {"diff": ("--no-ext-diff", "--no-textconv"), "log": ("--no-ext-diff",),
                "show": ("--no-ext-diff", "--no-textconv")}


class HostGit:
    def __init__(self, git_dir: Path, work_tree: Path) -> None:
        self.git_dir = git_dir
        self.work_tree = work_tree

    @classmethod
    def init(cls, git_dir: Path, work_tree: Path, *, alternate: Path) -> HostGit:
        """A fresh private repository whose objects fall back on ``alternate`` (read only)."""
        g = cls(git_dir, work_tree)
        g.run("init", "-q", "--bare", "--template=", str(git_dir), bare=True)
        for key, value in (("core.bare", "false"), ("core.logAllRefUpdates", "false")):
            g.run("config", key, value)
        (git_dir / "info").mkdir(exist_ok=True)
        (git_dir / "info" / "attributes").write_text(ATTRIBUTES)
        (git_dir / "objects" / "info").mkdir(parents=True, exist_ok=True)
        (git_dir / "objects" / "info" / "alternates").write_text(f"{alternate}\n")
        return g

    def run(self, *args: str, stdin: str | None = None, env: Mapping[str, str] | None = None,
            limit: bool = False, bare: bool = False, ok: tuple[int, ...] = (0,)) -> str:
        """git's stdout. A failure (an exit code not in ``ok``) raises ``WorkspaceError`` with
        git's own words; with ``limit``, so does output over ``PATCH_LIMIT``."""
        argv = self._argv(args)
        with subprocess.Popen(argv, cwd=self.work_tree, env=self._env(env, bare=bare),
                              stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
            try:
                out, err = _communicate(proc, stdin, limit)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise WorkspaceError(f"git {args[0]} on {self.work_tree} took over "
                                     f"{GIT_TIMEOUT:.0f}s and was stopped") from None
        if proc.returncode not in ok:
            raise WorkspaceError(f"git {' '.join(args[:3])} failed on {self.work_tree} (exit "
                                 f"{proc.returncode}): {err.decode(errors='replace')[-800:]}")
        return out.decode("utf-8", "surrogateescape")

    def blob(self, commit: str, path: str, max_bytes: int) -> bytes:
        """Up to ``max_bytes`` of a file as committed (from objects, not from the tree)."""
        argv = self._argv(("cat-file", "blob", f"{commit}:{path}"))
        with subprocess.Popen(argv, env=self._env(None, bare=False), stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL) as proc:
            assert proc.stdout is not None
            data = proc.stdout.read(max_bytes)
            proc.kill()
        return data

    def _argv(self, args: tuple[str, ...]) -> list[str]:
        return hardened_argv(args)

    def _env(self, extra: Mapping[str, str] | None, *, bare: bool) -> dict[str, str]:
        env = minimal_env(self.git_dir.parent)
        if not bare:
            env |= {"GIT_DIR": str(self.git_dir), "GIT_WORK_TREE": str(self.work_tree)}
        return env | dict(extra or {})


def hardened_argv(args: tuple[str, ...], *, git_dir: Path | None = None) -> list[str]:
    """``git [--git-dir=D] SUBCOMMAND ...`` with every repository-controlled program off."""
    exe = shutil.which("git") or "git"
    flags = [f for item in _HARDENED for f in ("-c", item)]
    where = [f"--git-dir={git_dir}"] if git_dir is not None else []
    return [exe, *flags, *where, args[0], *_NO_PROGRAMS.get(args[0], ()), *args[1:]]


def minimal_env(home: Path) -> dict[str, str]:
    """No inherited ``GIT_*`` variable (a caller's ``GIT_DIR`` would redirect every command), no
    system or global config."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LC_ALL": "C",
            "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_ATTR_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0"}


def _communicate(proc: subprocess.Popen[bytes], stdin: str | None,
                 limit: bool) -> tuple[bytes, bytes]:
    if not limit:
        # surrogateescape: a path read from the tree may not be UTF-8 (as run() decodes it)
        return proc.communicate(stdin.encode("utf-8", "surrogateescape") if stdin is not None
                                else None,
                                timeout=GIT_TIMEOUT)
    assert proc.stdout is not None
    assert proc.stderr is not None
    data = proc.stdout.read(PATCH_LIMIT + 1)
    if len(data) > PATCH_LIMIT:
        proc.kill()
        raise WorkspaceError(f"the workspace's changes are over {PATCH_LIMIT >> 20} MiB as a "
                             "patch; something in the sandbox wrote very large files — see "
                             "the run's last command, or add the output to .gitignore")
    _rest, err = proc.communicate(timeout=GIT_TIMEOUT)
    return data, err
