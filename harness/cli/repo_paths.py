"""The stages file and the runs directory must not come from the repository a ticket is about.

That repository is untrusted (docs/security.md). A stages file inside it is the repository's
choice, not the user's: an SDK stage's ``mcp_servers`` command runs on this machine, ``base_url``
sends the key where it says, ``sandbox.extra_ca_certs`` copies any file the user can read into
the image. A runs directory inside it puts the container-written workspaces in the user's
checkout, and lets the repository plant what harness reads back from there (cached baselines,
run records that ``reproduce`` rebuilds from). So both are refused there unless the user names
the path on the command line *and* confirms with a flag.

"Inside" is checked twice: the path as written (a committed ``runs -> ~/.ssh`` symlink is the
repository's choice of where harness writes) and with every symlink resolved (a path outside
that resolves into the repository is the repository's file).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from harness.errors import HarnessError

TRUST_CONFIG = "--trust-repo-config"
TRUST_RUNS = "--trust-repo-runs-dir"
F = TypeVar("F", bound=Callable[..., Any])


class RepoPathError(HarnessError, ValueError):
    """A stages file or runs directory inside the ticket's repository, not confirmed."""


@dataclass(frozen=True)
class Chosen:
    """A path harness will read its config from or write runs to, and how it was chosen."""

    path: Path
    option: str  # the option that names it: --config, --runs-dir
    named: bool  # given on the command line (not a default, not discovered)
    trusted: bool  # the confirming flag was given


def inside(path: Path, repo: Path) -> bool:
    """``path`` is ``repo`` or under it, as written or with symlinks resolved."""
    pairs = ((Path(os.path.abspath(path)), Path(os.path.abspath(repo))),
             (path.resolve(), repo.resolve()))
    return any(p == r or r in p.parents for p, r in pairs)


def check_config(repos: Iterable[Path], chosen: Chosen) -> None:
    """Refuse a stages file inside any of ``repos`` unless named and confirmed."""
    repo = _container(repos, chosen)
    if repo is None:
        return
    raise RepoPathError(
        f"the stages file {chosen.path} is inside the repository {repo}, which harness treats "
        "as untrusted: a stages file there could run commands on this machine (an SDK stage's "
        "mcp_servers), send your API keys to another server (base_url) and copy any file you "
        "can read into the sandbox image (sandbox.extra_ca_certs). Pass --config PATH outside "
        "the repository, or, if you wrote this file yourself, name it and confirm: "
        f"--config {chosen.path} {TRUST_CONFIG}" + _unconfirmed(chosen, TRUST_CONFIG))


def check_runs_dir(repos: Iterable[Path], chosen: Chosen) -> None:
    """Refuse a runs directory inside any of ``repos`` unless named and confirmed."""
    repo = _container(repos, chosen)
    if repo is None:
        return
    raise RepoPathError(
        f"the runs directory {chosen.path} is inside the repository {repo}: each run's "
        "workspace there is written by the container, so your checkout would hold files it "
        "wrote, and the repository could plant what harness reads back from it (cached "
        "baselines, run records). Pass --runs-dir PATH outside the repository, or name it and "
        f"confirm: --runs-dir {chosen.path} {TRUST_RUNS}" + _unconfirmed(chosen, TRUST_RUNS))


def _container(repos: Iterable[Path], chosen: Chosen) -> Path | None:
    """The repository holding ``chosen`` when that is refused; None when it is allowed."""
    if chosen.named and chosen.trusted:
        return None
    return next((r.resolve() for r in repos if inside(chosen.path, r)), None)


def _unconfirmed(chosen: Chosen, flag: str) -> str:
    if chosen.trusted:
        return f" ({flag} confirms a path named with {chosen.option}, not a default)"
    return ""


def enclosing_checkout(path: Path) -> Path | None:
    """The git checkout holding ``path`` (a ``.git`` in its directory or above, as written or
    with symlinks resolved), found without running git, which would read that checkout's
    config."""
    for where in (Path(os.path.abspath(path)).parent, path.resolve().parent):
        for directory in (where, *where.parents):
            if os.path.lexists(directory / ".git"):
                return directory
    return None


def check_discovered_config(path: Path) -> None:
    """A command that takes no repository and found ``./stages.yaml`` on its own: refused when
    that file is in a git checkout, which may be a repository the user is about to run tickets
    on (``cd repo && harness worker start``). Naming the file with ``-c`` is the confirmation:
    there is no ticket repository for it to be inside."""
    checkout = enclosing_checkout(path)
    if checkout is None:
        return
    raise RepoPathError(
        f"found {path} in the git checkout {checkout.resolve()} and did not read it: a stages "
        "file harness finds on its own in a repository may be that repository's, and its "
        "sandbox section chooses the files the image is built with (sandbox.extra_ca_certs) "
        f"and what runs in it. If you wrote it, name it: -c {path}; otherwise run from "
        "outside the checkout or pass -c PATH")


# -- the command line's side ------------------------------------------------------------------

def trust_runs_option(f: F) -> F:
    return click.option(TRUST_RUNS, "trust_repo_runs_dir", is_flag=True,
                        help="Allow a --runs-dir inside the repository (named explicitly): the "
                             "container's workspaces then land in your checkout.")(f)


def trust_config_option(f: F) -> F:
    return click.option(TRUST_CONFIG, "trust_repo_config", is_flag=True,
                        help="Allow a --config inside the repository (named explicitly): "
                             "only for a stages file you wrote yourself.")(f)


def trust_options(f: F) -> F:
    """Both confirming flags, for every command that takes a repository and both paths."""
    return trust_config_option(trust_runs_option(f))


def chosen(param: str, option: str, path: Path, trusted: bool) -> Chosen:
    """``path`` of the current command's ``param``, and whether the user named it."""
    source = click.get_current_context().get_parameter_source(param)
    named = source not in (None, ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP)
    return Chosen(path, option, named, trusted)


def check_repo_paths(repos: Iterable[Path], *, config_path: Path | None = None,
                     runs_dir: Path | None = None, trust_config: bool = False,
                     trust_runs: bool = False) -> None:
    """The one check every command that takes a repository makes, before it reads the stages
    file or touches the runs directory: neither may be inside any of ``repos`` unconfirmed."""
    repos = list(repos)
    if config_path is not None:
        check_config(repos, chosen("config_path", "--config", config_path, trust_config))
    if runs_dir is not None:
        check_runs_dir(repos, chosen("runs_dir", "--runs-dir", runs_dir, trust_runs))
