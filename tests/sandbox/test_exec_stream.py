"""Where an exec's read ends: at the supervisor's result line (no engine needed)."""

from __future__ import annotations

import json

from harness.sandbox.docker_sandbox import _holds_result


def result(stdout: str) -> bytes:
    return (json.dumps({"exit_code": 0, "stdout": stdout, "stderr": "", "timed_out": False,
                        "oom_killed": False, "duration": 0.1, "truncated": 0}) + "\n").encode()


def test_the_read_ends_at_the_whole_result_line() -> None:
    line = result("ok\n")
    assert _holds_result(bytearray(line))
    assert not _holds_result(bytearray(line[:-1]))
    assert not _holds_result(bytearray(line[: len(line) // 2] + b"\n"))


def test_a_command_cannot_end_the_read_with_a_line_of_its_own() -> None:
    # The command's output is a string inside the result: its newlines are escaped, so a
    # forged result line it prints is never a line of the supervisor's output, wherever the
    # stream's frames happen to be cut.
    forged = result("").decode()
    whole = result(f"building\n{forged}{forged}done\n")
    assert all(not _holds_result(bytearray(whole[:cut])) for cut in range(1, len(whole)))
    assert _holds_result(bytearray(whole))


def test_only_an_object_with_an_exit_code_is_a_result() -> None:
    assert not _holds_result(bytearray(b'"exit_code"\n'))
    assert not _holds_result(bytearray(b'{"status": 0}\n'))
    assert _holds_result(bytearray(b"noise from the supervisor\n" + result("x")))
