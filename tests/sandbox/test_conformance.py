"""The sandbox conformance suite: what every Sandbox backend must do. Runs on the real engine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from harness.config.schema import SandboxConfig
from harness.errors import PathOutsideWorkspaceError
from harness.sandbox.base import Sandbox
from tests.sandbox.conftest import CFG

pytestmark = pytest.mark.docker  # every test here needs the engine

Open = Callable[..., Sandbox]
NPM_VIEW = ("npm view is-number version --fetch-retries=0 --fetch-timeout=20000 "
            "--cache \"$(mktemp -d)\"")  # a fresh cache: npm falls back to a stale one offline


def running(sandbox: Sandbox, *argv: str) -> int:
    """How many processes run exactly ``argv`` in the container (the image has no pgrep)."""
    script = ("import os, sys\nwant = '\\0'.join(sys.argv[1:]) + '\\0'\nn = 0\n"
              "for p in filter(str.isdigit, os.listdir('/proc')):\n"
              "    try:\n        n += open('/proc/%s/cmdline' % p).read() == want\n"
              "    except OSError:\n        pass\nprint(n)\n")
    return int(sandbox.exec(["python3", "-c", script, *argv]).stdout)


def test_exit_codes_and_streams(sandbox: Sandbox) -> None:
    r = sandbox.exec("echo out; echo err >&2; exit 3")
    assert (r.exit_code, r.stdout, r.stderr, r.timed_out, r.ok) == (3, "out\n", "err\n", False,
                                                                     False)
    assert sandbox.exec("true").ok


def test_argv_runs_without_a_shell(sandbox: Sandbox) -> None:
    r = sandbox.exec(["echo", "$HOME; rm -rf /"])
    assert r.stdout == "$HOME; rm -rf /\n"


def test_env_and_workdir(sandbox: Sandbox) -> None:
    r = sandbox.exec("echo $GREETING; pwd", env={"GREETING": "hi"}, workdir="/workspace/src")
    assert r.stdout == "hi\n/workspace/src\n"


def test_env_values_are_not_on_any_command_line(sandbox: Sandbox) -> None:
    secret = "value-that-must-not-show-" + "x" * 8
    script = ("import os\nfor p in filter(str.isdigit, os.listdir('/proc')):\n"
              "    try: print(open(f'/proc/{p}/cmdline').read())\n    except OSError: pass")
    r = sandbox.exec(["python3", "-c", script], env={"TOKEN": secret})
    assert r.ok, r.stderr
    assert "python3" in r.stdout  # the listing saw the command lines
    assert secret not in r.stdout


def test_missing_program_is_a_result_not_an_error(sandbox: Sandbox) -> None:
    r = sandbox.exec(["no-such-program"])
    assert r.exit_code == 127
    assert "no-such-program" in r.stderr


def test_timeout_kills_the_whole_process_group(sandbox: Sandbox) -> None:
    r = sandbox.exec("sleep 300 & sleep 300 & echo started; wait", timeout=1)
    assert r.timed_out
    assert r.stdout == "started\n"
    assert r.duration < 5
    assert running(sandbox, "sleep", "300") == 0


def test_background_children_do_not_outlive_the_command(sandbox: Sandbox) -> None:
    assert running(sandbox, "sleep", "300") == 0
    r = sandbox.exec("sleep 300 & echo bye")
    assert r.ok
    assert r.stdout == "bye\n"
    assert running(sandbox, "sleep", "300") == 0


def test_no_process_survives_an_exec(sandbox: Sandbox) -> None:
    """A daemon that leaves the command's session and process group (setsid, double fork,
    nohup) is gone before the next command starts, and so cannot read its environment."""
    r = sandbox.exec("setsid sh -c 'sleep 301 & sleep 302' & "
                     "(nohup sh -c 'sleep 303' >/dev/null 2>&1 &) ; "
                     "python3 -c 'import os,time\nif os.fork()==0:\n os.setsid()\n "
                     "time.sleep(304)' & echo started")
    assert r.ok, r.stderr
    listing = ("import os\nfor p in filter(str.isdigit, os.listdir('/proc')):\n"
               "    try:\n        print(p, open('/proc/%s/cmdline' % p).read()"
               ".replace('\\0', ' '))\n    except OSError:\n        pass\n")
    seen = sandbox.exec(["python3", "-c", listing], env={"SECRET_OF_THE_NEXT": "x"})
    assert "sleep 30" not in seen.stdout, seen.stdout
    assert "time.sleep" not in seen.stdout
    assert seen.stdout.startswith("1 python3 -I -c")  # the reaper stays: the container lives


def test_output_is_capped_keeping_head_and_tail(open_sandbox: Open, repo: Path) -> None:
    sandbox = open_sandbox(repo, CFG.model_copy(update={"output_limit": 2000}))
    r = sandbox.exec("seq 1 100000")
    assert r.stdout.startswith("1\n2\n3\n")
    assert r.stdout.rstrip().endswith("99999\n100000")
    assert r.truncated > 500_000
    assert "bytes cut by the harness" in r.stdout
    assert len(r.stdout) < 2100


def test_out_of_memory_is_reported_as_such(sandbox: Sandbox) -> None:
    r = sandbox.exec("python3 -c 'b = bytearray(2 * 1024**3)'")
    assert r.oom_killed
    assert not r.ok
    assert "out of memory" in r.summary()
    assert sandbox.exec("echo still here").stdout == "still here\n"


def test_fork_bomb_is_contained(sandbox: Sandbox) -> None:
    r = sandbox.exec("bash -c 'f(){ f|f& }; f'", timeout=10)
    assert r.duration < 10
    assert sandbox.exec("echo alive").stdout == "alive\n"


def test_not_root_and_no_capabilities(sandbox: Sandbox) -> None:
    assert sandbox.exec("id -u").stdout.strip() != "0"
    status = sandbox.exec("grep -E '^(CapEff|NoNewPrivs)' /proc/self/status").stdout
    assert "CapEff:\t0000000000000000" in status
    assert "NoNewPrivs:\t1" in status


def test_no_network_while_tests_run(sandbox: Sandbox) -> None:
    r = sandbox.exec(NPM_VIEW, timeout=30)
    assert r.exit_code != 0
    assert sandbox.exec("cat /proc/net/dev").stdout.count(":") == 1  # only lo


def test_network_when_asked_for(open_sandbox: Open, repo: Path) -> None:
    """The control for the test above: the same command succeeds with network on."""
    sandbox = open_sandbox(repo, network="always")
    r = sandbox.exec(NPM_VIEW, timeout=60)
    assert r.ok, r.stderr
    assert r.stdout.strip()


def test_file_tools(sandbox: Sandbox) -> None:
    assert "src/app.js" in sandbox.list_files()
    sandbox.write_file("src/new/mod.js", "exports.x = 1;\n")
    assert sandbox.read_file("/workspace/src/new/mod.js") == "exports.x = 1;\n"
    sandbox.edit_file("src/app.js", '"hello "', '"hi "')
    assert sandbox.exec("node -e 'console.log(require(\"./src/app\").greet(\"y\"))'").stdout == \
        "hi y\n"
    # The container's user can change what the host-side tools wrote.
    assert sandbox.exec("echo more >> src/new/mod.js").ok
    hits = sandbox.search(r"greet\b")
    assert {(h.path, h.line) for h in hits} >= {("src/app.js", 1), ("test/app.test.js", 3)}


def test_search_skips_what_the_repositorys_gitignore_ignores(sandbox: Sandbox) -> None:
    sandbox.write_file("dist/bundle.js", "exports.greet = 1;\n")  # .gitignore: dist/
    paths = {h.path for h in sandbox.search(r"greet\b")}
    assert "src/app.js" in paths
    assert "dist/bundle.js" not in paths


def test_search_modes_and_paths_that_look_like_line_numbers(sandbox: Sandbox) -> None:
    sandbox.write_file("q/a-1-b:2:c.ts", "x\nneedle\ny\n")
    sandbox.write_file("q/z.js", "needle\n")
    hits = sandbox.search("needle", "q", glob="*.ts", context=1)
    assert [(h.path, h.line, h.text, h.context) for h in hits] == [
        ("q/a-1-b:2:c.ts", 1, "x", True), ("q/a-1-b:2:c.ts", 2, "needle", False),
        ("q/a-1-b:2:c.ts", 3, "y", True)]
    assert [h.path for h in sandbox.search("needle", "q", files_only=True)] == [
        "q/a-1-b:2:c.ts", "q/z.js"]


def test_search_is_sorted_so_a_cut_keeps_the_first_matches(sandbox: Sandbox) -> None:
    for n in reversed(range(40)):
        sandbox.write_file(f"z/f{n:02}.txt", "needle\nneedle\n")
    hits = sandbox.search("needle", "z", limit=5)
    assert [(h.path, h.line) for h in hits] == [
        ("z/f00.txt", 1), ("z/f00.txt", 2), ("z/f01.txt", 1), ("z/f01.txt", 2), ("z/f02.txt", 1)]


def test_a_search_past_the_output_limit_lists_its_first_hits_in_order(sandbox: Sandbox) -> None:
    """300 long matching lines are ~120 KB, past the 64 KiB a command's output keeps (head and
    tail): the first 201 hits come back contiguous, never the head's then the tail's."""
    sandbox.write_file("long/a.txt", "".join(f"needle {n:04} {'x' * 380}\n" for n in range(300)))
    hits = sandbox.search("needle", "long", limit=201)
    assert [h.line for h in hits] == list(range(1, 202))
    files = sandbox.search("needle", "long", files_only=True, limit=3)
    assert [h.path for h in files] == ["long/a.txt"]
    with pytest.raises(ValueError, match="search failed"):
        sandbox.search("(unclosed", "long")


def test_edit_needs_exactly_one_match(sandbox: Sandbox) -> None:
    sandbox.write_file("f.txt", "a\na\n")
    with pytest.raises(ValueError, match="found 2 times"):
        sandbox.edit_file("f.txt", "a", "b")
    with pytest.raises(ValueError, match="not found"):
        sandbox.edit_file("f.txt", "zzz", "b")


def test_paths_may_not_leave_the_workspace(sandbox: Sandbox) -> None:
    with pytest.raises(PathOutsideWorkspaceError):
        sandbox.read_file("../../etc/passwd")
    with pytest.raises(PathOutsideWorkspaceError):
        sandbox.read_file("/etc/passwd")
    assert sandbox.exec("ln -s /etc escape").ok
    with pytest.raises(PathOutsideWorkspaceError):
        sandbox.read_file("escape/passwd")
    with pytest.raises(PathOutsideWorkspaceError):
        sandbox.write_file("escape/evil", "x")


def test_diff_against_the_base_includes_new_files(sandbox: Sandbox) -> None:
    sandbox.edit_file("src/app.js", '"hello "', '"hey "')
    sandbox.write_file("src/extra.js", "module.exports = 2;\n")
    sandbox.exec("rm test/app.test.js")
    patch = sandbox.diff()
    assert '-exports.greet = (n) => "hello " + n;' in patch
    assert "+++ b/src/extra.js" in patch
    assert "deleted file mode" in patch


def test_tests_run_inside(sandbox: Sandbox) -> None:
    assert sandbox.exec("node --test test/").ok
    sandbox.edit_file("src/app.js", '"hello "', '"bye "')
    r = sandbox.exec("node --test test/")
    assert r.exit_code == 1
    assert "greets" in r.stdout


def test_limits_follow_the_config(open_sandbox: Open, repo: Path) -> None:
    cfg = SandboxConfig(cpus=0.5, memory="300m", pids_limit=64)
    sandbox = open_sandbox(repo, cfg)
    container = sandbox.container  # type: ignore[attr-defined]
    host = container.attrs["HostConfig"]
    assert (host["NanoCpus"], host["Memory"], host["PidsLimit"]) == (500_000_000,
                                                                      300 * 1024**2, 64)
    assert host["CapDrop"] == ["ALL"]
    # The checkout, read-write, and the host-written control directory, read-only: nothing else.
    assert sorted((m["Destination"], m["RW"]) for m in container.attrs["Mounts"]) == [
        ("/run/harness", False), ("/workspace", True)]


def test_bytes_round_trip_and_remove(sandbox: Sandbox) -> None:
    sandbox.write_bytes("b/raw.bin", b"caf\xe9\r\n\x00")
    assert sandbox.read_bytes("b/raw.bin") == b"caf\xe9\r\n\x00"
    assert sandbox.exec("test -w b/raw.bin").ok  # the container's user can change it
    sandbox.remove_file("b/raw.bin")
    assert not sandbox.exists("b/raw.bin")
    with pytest.raises(FileNotFoundError):
        sandbox.remove_file("b/raw.bin")
