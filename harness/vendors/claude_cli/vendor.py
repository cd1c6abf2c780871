"""The claude-cli ``Vendor``: its capability envelope and one call as one ``claude -p`` session
(the package docstring says how)."""

from __future__ import annotations

import os
import time

from harness.config.schema import ModelEntry, Tier
from harness.vendors import common
from harness.vendors.anthropic_sdk import anthropic_control, anthropic_option_problems
from harness.vendors.base import Vendor
from harness.vendors.claude_cli.command import claude_argv, claude_env, claude_route, watch_command
from harness.vendors.claude_cli.options import ClaudeCliOptions
from harness.vendors.claude_cli.result import Call, outcome_response
from harness.vendors.claude_cli.session import Session, stage_commands
from harness.vendors.cli_mcp import mcp_env
from harness.vendors.egress import metered
from harness.vendors.errors import CliCrashError, VendorError, VendorTimeoutError
from harness.vendors.types import (
    CommandRunner,
    ExecOutcome,
    ModelRequest,
    ModelResponse,
    NativeControl,
    OptionProblem,
    VendorOptions,
)

# The CLI needs about a second to start; with less than this left there is no point.
MIN_SESSION_SECONDS = 2.0
# What the watcher leaves between killing claude and the deadline: its cleanup, the exec's
# return and the network detach, so the call itself ends by the deadline.
EXIT_MARGIN = 0.5
# The exec supervisor's own timeout is only a backstop for a watcher that fails to stop.
BACKSTOP = 5.0
STAGE_TIMEOUT = 30.0


class ClaudeCliVendor(Vendor):
    name = "claude-cli"
    provider = "anthropic"
    surface = "cli"
    summary = "claude -p (Claude Code CLI, subscription or API key), inside the container"
    prompt_caching = True  # the CLI caches its own prefix; usage reports cache tokens
    default_api_key_env = "ANTHROPIC_API_KEY"
    options = ClaudeCliOptions

    def compute_control(self, model: ModelEntry, tier: Tier, options: VendorOptions,
                        max_output_tokens: int) -> NativeControl | None:
        assert isinstance(options, ClaudeCliOptions)
        return anthropic_control(model, tier, options.effort, options.max_thinking_tokens,
                                 max_output_tokens, effort_name="--effort",
                                 budget_name="--max-thinking-tokens")

    def option_problems(self, model_id: str, model: ModelEntry,
                        options: VendorOptions) -> list[OptionProblem]:
        assert isinstance(options, ClaudeCliOptions)
        return anthropic_option_problems(model_id, model, options.effort,
                                         options.max_thinking_tokens, effort_key="effort",
                                         budget_key="max_thinking_tokens")

    def complete(self, request: ModelRequest, *, runner: CommandRunner | None = None
                 ) -> ModelResponse:
        if runner is None:
            raise CliCrashError(self.name, "the claude CLI runs only inside the ticket's sandbox "
                                "and no sandbox was given: a CLI vendor never runs on the host")
        settings = request.settings
        options = settings.options
        assert isinstance(options, ClaudeCliOptions)
        key = common.api_key(self.name, settings.api_key_env)  # before anything runs
        route = claude_route(request, key,
                             settings.base_url or os.environ.get("ANTHROPIC_BASE_URL"),
                             self.name)
        started = time.monotonic()
        session = Session.new()
        argv = claude_argv(request, options, session, self.name)
        self._session_seconds(request)
        self._stage(runner, request, session)
        with runner.egress(route) as link:
            seconds = self._session_seconds(request)
            outcome = runner.exec(watch_command(argv, session, seconds),
                                  timeout=seconds + BACKSTOP,
                                  env=claude_env(request, session, link.base_url)
                                  | mcp_env(request.mcp_servers))
        # The proxy's count, not the CLI's: it covers a session killed at the deadline too.
        usage, cost = metered(link.exchanges(), settings)
        call = Call(request, time.monotonic() - started, self.name, usage, cost)
        try:
            return outcome_response(outcome, call)
        except VendorError as fault:
            fault.spent, fault.cost_usd = usage, cost
            raise

    def _session_seconds(self, request: ModelRequest) -> float:
        """How long the watcher may let claude run: to just before the deadline."""
        seconds = request.remaining() - EXIT_MARGIN
        if seconds < MIN_SESSION_SECONDS:
            raise VendorTimeoutError(self.name, f"{request.remaining():.1f}s left before the "
                                     "stage deadline: too little to run the claude CLI")
        return seconds

    def _stage(self, runner: CommandRunner, request: ModelRequest, session: Session) -> None:
        """Write the prompt files into the container (offline: no network needed)."""
        for cmd in stage_commands(session, session.files(request)):
            done: ExecOutcome = runner.exec(cmd, timeout=min(STAGE_TIMEOUT, request.remaining()))
            if done.exit_code != 0 or done.timed_out:
                raise CliCrashError(self.name, "could not write the prompt into the sandbox "
                                    f"(exit {done.exit_code}): "
                                    + common.redact(done.stderr.strip()[-400:]))
