"""The gemini-cli ``Vendor``: its capability envelope and one call as one headless ``gemini -p``
session (the package docstring says how)."""

from __future__ import annotations

import json
import os
import time

from harness.config.schema import ModelEntry, Tier
from harness.vendors import common
from harness.vendors.base import Vendor
from harness.vendors.cli_mcp import mcp_env
from harness.vendors.egress import metered
from harness.vendors.errors import VendorError, VendorTimeoutError
from harness.vendors.gemini_cli.command import (
    chat_attempts,
    cli_settings,
    gemini_command,
    gemini_env,
    gemini_route,
)
from harness.vendors.gemini_cli.options import GeminiCliOptions
from harness.vendors.gemini_cli.prompt import json_answer, prompt_text, system_file
from harness.vendors.gemini_cli.result import CliAnswer, Reader
from harness.vendors.gemini_cli.session import Session, stage_commands
from harness.vendors.google_sdk import gemini_control, gemini_option_problems
from harness.vendors.types import (
    CommandRunner,
    EgressLink,
    EgressRoute,
    Exchange,
    ModelRequest,
    ModelResponse,
    NativeControl,
    OptionProblem,
    VendorOptions,
)

_SETTING = "settings.json thinkingConfig."
# With an API key, 0.61.0 sends these models' requests to newer ones, whatever -m says (its
# model resolution and a final model mapping both promote them; no setting turns that off).
# The catalog has no price for the targets, so such a call is refused before it starts.
SUBSTITUTED = {"gemini-3.5-flash": "gemini-3.8-flash", "gemini-3-flash": "gemini-3.8-flash",
               "gemini-3.1-flash-lite": "gemini-3.5-flash-lite",
               "gemini-3-pro-preview": "gemini-3.1-pro-preview"}
HOUSEKEEPING_S = 30.0  # time limit of the execs that stage a session's files


class GeminiCliVendor(Vendor):
    name = "gemini-cli"
    provider = "google"
    surface = "cli"
    summary = "gemini -p (Gemini CLI), inside the container"
    prompt_caching = True
    default_api_key_env = "GEMINI_API_KEY"
    options = GeminiCliOptions

    def compute_control(self, model: ModelEntry, tier: Tier, options: VendorOptions,
                        max_output_tokens: int) -> NativeControl | None:
        assert isinstance(options, GeminiCliOptions)
        return gemini_control(model, tier, options.thinking_level, options.thinking_budget,
                              level_name=_SETTING + "thinkingLevel",
                              budget_name=_SETTING + "thinkingBudget")

    def option_problems(self, model_id: str, model: ModelEntry,
                        options: VendorOptions) -> list[OptionProblem]:
        assert isinstance(options, GeminiCliOptions)
        return gemini_option_problems(model_id, model, options.thinking_level,
                                      options.thinking_budget, level_key="thinking_level",
                                      budget_key="thinking_budget")

    def model_problem(self, model_id: str) -> OptionProblem | None:
        if model_id not in SUBSTITUTED:
            return None
        return OptionProblem("model", f"the pinned gemini CLI sends {model_id} requests to "
                             f"{SUBSTITUTED[model_id]}, which the catalog cannot price",
                             "route this stage to the `google` vendor or pick another model")

    def complete(self, request: ModelRequest, *, runner: CommandRunner | None = None
                 ) -> ModelResponse:
        if runner is None:
            raise VendorError(self.name, "the gemini CLI runs only inside the ticket's sandbox "
                              "(complete(request, runner=sandbox)), never on the host")
        s = request.settings
        refused = self.model_problem(s.model_id)
        if refused is not None:
            raise VendorError(self.name, f"{refused.message} — {refused.hint}")
        started = time.monotonic()
        names = tuple(dict.fromkeys((s.api_key_env, "GEMINI_API_KEY", "GOOGLE_API_KEY")))
        key = common.api_key(self.name, names[0], *names[1:])
        reader = Reader(self.name, key, next(n for n in names if os.environ.get(n) == key))
        route = gemini_route(request, key, s.base_url or os.environ.get("GOOGLE_GEMINI_BASE_URL"),
                             self.name)
        exchanges: list[Exchange] = []
        try:
            answer = self._session(request, runner, route, reader, exchanges)
        except VendorError as fault:  # what a failed session spent, as the proxy counted it
            fault.spent, fault.cost_usd = metered(exchanges, s)
            raise
        text = (json_answer(self.name, answer.text, request.output_schema)
                if request.output_schema is not None else answer.text)
        usage, cost = metered(exchanges, s)
        return ModelResponse(text, (), "end_turn", usage, cost, time.monotonic() - started,
                             _model(exchanges, s.model_id), answer.session_id)

    def _session(self, request: ModelRequest, runner: CommandRunner, route: EgressRoute,
                 reader: Reader, exchanges: list[Exchange]) -> CliAnswer:
        """Stage the session's files, run the CLI through the egress proxy until the
        deadline. ``exchanges`` receives what the proxy forwarded."""
        if request.remaining() < common.MIN_ATTEMPT_SECONDS:
            raise reader.error(VendorTimeoutError, "the deadline passed before the CLI started")
        session = Session.new()
        settings = cli_settings(request, self.name, chat_attempts(request.remaining()))
        files = session.files(settings, system_file(request.system), prompt_text(request))
        for command in stage_commands(session, files):
            staged = runner.exec(command, timeout=HOUSEKEEPING_S)
            if not staged.ok:
                raise reader.error(VendorError, "could not write the session's files: "
                                   + staged.summary() + " " + staged.stderr[-500:])
        seconds = request.remaining()
        link: EgressLink | None = None
        try:
            # The exec's end kills every process the session started; its files go when the
            # next session is staged (they hold no secret).
            with runner.egress(route) as link:
                system = link.publish(f"gemini-{session.token[:12]}.json", json.dumps(settings))
                result = runner.exec(gemini_command(request, session), timeout=seconds,
                                     env=gemini_env(session, link.base_url, system)
                                     | mcp_env(request.mcp_servers))
        finally:  # read once the session is closed: the exchanges it cut count too
            if link is not None:
                exchanges.extend(link.exchanges())
        return reader.answer(result, seconds)


def _model(exchanges: list[Exchange], asked: str) -> str:
    """The model asked for, unless the CLI called only others (it would have substituted)."""
    called = [ex.model for ex in exchanges if ex.model]
    return asked if asked in called or not called else called[0]
