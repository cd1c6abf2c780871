"""The typed, frozen form of stages.yaml and of the model catalog.

The file is flat, exactly like the design note's example: one top-level key per stage (planner,
coder, debugger, reviewer) next to the run-wide keys (token_cap, cost_cap_usd, sandbox, models,
pricing). Parsing happens once, at the edge (``harness.config.load``); nothing else reads YAML.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    StrictInt,
    WithJsonSchema,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from harness.config.durations import DurationError, parse_duration
from harness.config.secrets import masked, reference_problem

Tier = Literal["low", "medium", "high", "max"]
TIERS: tuple[Tier, ...] = ("low", "medium", "high", "max")
RetryCompute = Literal["increased", "low", "medium", "high", "max"]
OnExhaust = Literal["halt", "surface_to_human"]
OnRambling = Literal["flag", "stop"]
Provider = Literal["anthropic", "google"]
Reasoning = Literal["effort", "thinking_budget", "thinking_level", "none"]

ANY_STAGE = "any_stage"
# Top-level keys with this prefix are ignored, so a file can hold YAML anchors to merge from
# (`x-defaults: &defaults`), as docker compose allows.
EXTENSION_PREFIX = "x-"
# Pipeline order. A role is a stage the pipeline defines; the file may name no other stage.
ROLES: tuple[str, ...] = ("planner", "coder", "debugger", "reviewer")
REQUIRED_ROLES: tuple[str, ...] = ("planner", "coder")
# Only the Debugger attaches to other stages and routes fixes to them.
ROUTING_KEYS: tuple[str, ...] = ("attaches_to", "can_route_to")
ROUTING_ROLES: tuple[str, ...] = ("debugger",)
# The repository map goes into the Planner's first turn; no other stage has a map budget.
REPO_MAP_KEY = "repo_map_tokens"
REPO_MAP_ROLES: tuple[str, ...] = ("planner",)
DEFAULT_REPO_MAP_TOKENS = 2_000
DEFAULT_TOKEN_CAP = 2_000_000


def _duration(value: object) -> float:
    try:
        return parse_duration(value)
    except DurationError as exc:
        raise PydanticCustomError("duration", "{message}", {"message": str(exc),
                                                             "hint": exc.hint}) from None


Timeout = Annotated[
    float,
    BeforeValidator(_duration),
    WithJsonSchema({"type": "string", "pattern": r"^(\d+(\.\d+)?(ms|s|m|h))+$",
                    "examples": ["120s", "5m", "1h"],
                    "description": "Duration with a unit; required on every stage."}),
]
EnvVarName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def _size(value: object) -> object:
    """``16m`` or ``4g`` (binary units, as docker's memory) to bytes; a plain int is bytes."""
    if isinstance(value, str) and (m := re.fullmatch(r"(\d+(?:\.\d+)?)([kmgt]?)", value.strip())):
        return int(float(m[1]) * _SIZE_UNITS[m[2]])
    return value


Size = Annotated[
    StrictInt,
    BeforeValidator(_size),
    Field(ge=1 << 20),
    WithJsonSchema({"type": "string", "pattern": r"^\d+(\.\d+)?[kmgt]?$",
                    "examples": ["16m", "4g"], "description": "Bytes, or with a unit k/m/g/t."}),
]


def _stage_ref(value: object) -> object:
    if value == ANY_STAGE or (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        return value
    raise PydanticCustomError("stage_ref", "{message}", {
        "message": f"`{value}` is neither any_stage nor a list of stage names",
        "hint": "write `any_stage` or a list such as [planner, coder]"})


StageRef = Annotated[Literal["any_stage"] | tuple[str, ...], BeforeValidator(_stage_ref)]
TokenCount = Annotated[StrictInt, Field(gt=0)]


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OnRetry(Frozen):
    """What changes on attempts after the first. Omitted fields keep the first attempt's value,
    except that switching ``vendor`` drops the old vendor's model, options and connection."""

    compute: RetryCompute | None = Field(
        None, description="`increased` = one tier above the attempt before; or a fixed tier.")
    model: str | None = None
    vendor: str | None = None
    vendor_options: dict[str, Any] | None = None
    base_url: str | None = None
    api_key_env: EnvVarName | None = None


class McpServerConfig(Frozen):
    """An MCP server whose tools a stage may call: a stdio command or an HTTP URL."""

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,30}$",
                      description="Prefix of its tools' names: <name>__<tool>.")
    command: list[str] | None = Field(None, min_length=1,
                                      description="Start the server on stdio (argv).")
    url: str | None = Field(None, pattern=r"^https?://", description="Streamable HTTP URL.")
    env: dict[str, str] = Field(
        default_factory=dict, description="Extra environment for a stdio server. Give secrets "
        "by reference, `TOKEN: ${MY_TOKEN}`: resolved from the environment when the server "
        "starts, never written to run.json, a CLI's command line or any file.")
    cwd: str | None = None

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerConfig:
        if (self.command is None) == (self.url is None):
            raise ValueError("give exactly one of `command` (stdio) or `url` (HTTP)")
        return self

    @field_validator("env")
    @classmethod
    def _references(cls, env: dict[str, str]) -> dict[str, str]:
        problems = [p for p in map(reference_problem, env.values()) if p]
        if problems:
            raise ValueError("; ".join(problems))
        return env

    @field_serializer("env")
    def _masked(self, env: dict[str, str]) -> dict[str, str]:
        return masked(env)  # a record (run.json) never holds a value, only references


DEFAULT_FALLBACK_AFTER = 2


class FallbackConfig(Frozen):
    """Another vendor and model that serves an SDK stage's turns once the primary has failed
    ``after`` times running within an attempt: overloaded, 5xx, 429, a dropped connection, or a
    call not answered within ``call_timeout`` (its client's in-call retries count as one
    failure). A refused request (400) or key (401/403) never falls back. The attempt stays on
    the fallback to its end; the next attempt starts on the primary again."""

    vendor: str = Field(description="An SDK vendor (anthropic, google), checked like a stage's.")
    model: str = Field(description="A catalog alias or model id the fallback vendor serves.")
    timeout: Timeout | None = Field(
        None, description="The attempt's time from the switch on; default: what is left of "
        "the stage's timeout.")
    effort: Tier | None = Field(
        None, description="The fallback's compute tier (low … max); default: the attempt's "
        "own, so on_retry escalation carries over.")
    after: Annotated[StrictInt, Field(ge=1, le=10)] = Field(
        DEFAULT_FALLBACK_AFTER, description="Consecutive failures of the primary that hand "
        "the attempt to the fallback.")
    call_timeout: Timeout | None = Field(
        None, description="A primary call not answered within this counts as one failure; "
        "default: the stage's timeout / (after + 1).")
    vendor_options: dict[str, Any] = Field(default_factory=dict,
                                           description="The fallback vendor's own knobs.")
    base_url: str | None = None
    api_key_env: EnvVarName | None = None


class StageConfig(Frozen):
    vendor: str = Field(description="Which backend serves this stage.")
    model: str = Field(description="A catalog alias (opus, sonnet, gemini-flash, ...) or model id.")
    timeout: Timeout
    retry_budget: Annotated[StrictInt, Field(ge=0, le=50)] = Field(
        0, description="Attempts after the first. 0: one attempt, then on_exhaust.")
    compute: Tier = Field("medium", description="First-attempt compute tier.")
    on_retry: OnRetry | None = None
    on_exhaust: OnExhaust = "halt"
    on_rambling: OnRambling = Field(
        "flag", description="When this stage's tokens in a run pass calibration.rambling_factor "
        "x its calibrated expectation: `flag` (an event and a run.json entry) or `stop` (the run "
        "ends `rambling_stopped`).")
    attaches_to: StageRef | None = Field(None, description="Debugger only: stages it watches.")
    can_route_to: StageRef | None = Field(None, description="Debugger only: fix owners.")
    max_output_tokens: TokenCount | None = None
    max_turns: Annotated[StrictInt, Field(ge=1, le=500)] | None = Field(
        None, description="Model turns one attempt may take (SDK vendors; default 60).")
    repo_map_tokens: Annotated[StrictInt, Field(ge=0, le=50_000)] | None = Field(
        None, description="Planner only: tokens of the ranked repository map (files and "
        "symbols relevant to the ticket) in its first turn, where retries and re-plans read it "
        f"from the prompt cache; default {DEFAULT_REPO_MAP_TOKENS}. 0 turns the map and the "
        "`repo_map` tool off.")
    vendor_options: dict[str, Any] = Field(default_factory=dict,
                                           description="Vendor-native knobs, checked per vendor.")
    mcp_servers: list[McpServerConfig] = Field(
        default_factory=list, description="MCP servers whose tools this stage may call.")
    base_url: str | None = None
    api_key_env: EnvVarName | None = None
    fallback: FallbackConfig | None = Field(
        None, description="Another vendor and model for this stage's turns when the primary "
        "is down (SDK stages).")


class Price(Frozen):
    """USD per million tokens."""

    input: NonNegativeFloat
    output: NonNegativeFloat
    cache_write: NonNegativeFloat
    cache_read: NonNegativeFloat
    # USD per million tokens per hour an explicit cache (Gemini cachedContents) is stored.
    cache_storage: NonNegativeFloat | None = None


class PriceOverride(Frozen):
    input: NonNegativeFloat | None = None
    output: NonNegativeFloat | None = None
    cache_write: NonNegativeFloat | None = None
    cache_read: NonNegativeFloat | None = None
    cache_storage: NonNegativeFloat | None = None


class ModelEntry(Frozen):
    provider: Provider
    context_window: TokenCount
    max_output_tokens: TokenCount
    price: Price
    reasoning: Reasoning = "none"
    effort_levels: tuple[str, ...] = ()
    thinking_levels: tuple[str, ...] = ()
    thinking_budget_range: tuple[int, int] | None = None
    # The shortest prefix the vendor's prompt cache stores (shorter ones are silently uncached).
    cache_min_tokens: PositiveInt | None = None


class ModelOverride(Frozen):
    """A new model (provider, context_window, max_output_tokens and price required) or changes to a
    catalog model; ``aliases`` point extra short names at it."""

    provider: Provider | None = None
    context_window: TokenCount | None = None
    max_output_tokens: TokenCount | None = None
    price: PriceOverride | None = None
    reasoning: Reasoning | None = None
    effort_levels: tuple[str, ...] | None = None
    thinking_levels: tuple[str, ...] | None = None
    thinking_budget_range: tuple[int, int] | None = None
    cache_min_tokens: PositiveInt | None = None
    aliases: tuple[str, ...] = ()


class SandboxConfig(Frozen):
    """The per-ticket container."""

    image: str = Field("harness-sandbox:latest", description="Tag of the sandbox image "
                       "(`harness sandbox build` builds it from dockerfile).")
    base_image: str = Field("debian:bookworm-slim", description="FROM image; bootstrapped with "
                            "debootstrap when no registry can serve it.")
    dockerfile: str | None = Field(None, description="Dockerfile for the sandbox image; default: "
                                   "the one shipped with harness.")
    extra_ca_certs: str = Field("auto", description="PEM bundle the image trusts besides its own: "
                                "`auto` (the host bundle when it differs), `none`, or a path.")
    install_clis: bool = Field(False, description="Add the pinned claude and gemini CLIs.")
    setup_command: str | None = Field(None, description="Installs the repo's dependencies into "
                                      "the dependency image; default: detected from the lockfile.")
    setup_timeout: Timeout = Field(1800.0, description="Limit for building the toolchain and the "
                                   "dependency image (each).")
    node: str | None = Field(None, pattern=r"^\S+$", description="The repository's Node: a "
                             "version or range (`20`, `20.19.5`, `>=20.19`, `lts/iron`) or "
                             "`system` (the sandbox image's own); default: from .nvmrc, "
                             ".node-version, .tool-versions, volta, engines.node, else 22.")
    test_command: str | None = Field(None, description="Runs the full test suite in /workspace.")
    baseline: bool = Field(True, description="Run the suite once at the base commit (cached per "
                           "commit and image) so tests that already failed there never count "
                           "against the Coder.")
    affected_test_command: str | None = Field(
        None, description="Template for tests of changed files: {changed_files}, "
        "{changed_packages}.")
    network: Literal["none", "cli-only", "always"] = Field(
        "cli-only", description="cli-only: the container has no network, and a CLI stage "
        "reaches its API only through the host's egress proxy, which holds the key; none: not "
        "even that; always: the Docker bridge for every command (trusted repositories only).")
    upstream_proxy: str | None = Field(
        None, pattern=r"^http://[A-Za-z0-9.\-\[\]:]+:\d+/?$", description="http://HOST:PORT of "
        "the HTTP proxy the host must use to reach the internet (corporate networks): the egress "
        "proxy tunnels a CLI stage's API calls through it (CONNECT; TLS stays end to end). SDK "
        "stages use their HTTP client's HTTPS_PROXY variables.")
    install_registries: list[Annotated[str, Field(pattern=r"^https://\S+$")]] = Field(
        default_factory=list, description="https URLs of registries a dependency build may "
        "reach besides the one the sandbox image's npm (and yarn) is configured with: its "
        "install goes through a host proxy that opens tunnels to these hosts only.")
    install_repo_registries: bool = Field(
        False, description="Also let a dependency build reach the registries the repository's "
        "own .npmrc, .yarnrc and .yarnrc.yml name (trusted repositories only).")
    cpus: PositiveFloat = 2.0
    memory: str = Field("4g", pattern=r"^\d+(\.\d+)?[kmg]?$", description="e.g. 512m, 4g")
    pids_limit: Annotated[StrictInt, Field(ge=16)] = 1024
    exec_timeout: Timeout = Field(600.0, description="Default limit for one command.")
    output_limit: Annotated[StrictInt, Field(ge=1024)] = Field(
        65536, description="Characters kept of a command's stdout and of its stderr (head and "
        "tail).")
    commit_branch_max_file_mb: Annotated[StrictInt, Field(ge=1, le=1_000_000)] = Field(
        50, description="--commit-branch refuses a result holding a new or changed file over "
        "this many MiB (the branch is not created; the result stays in final.diff).")
    workspace_quota: Size = Field(
        4 << 30, description="Disk space the checkout may grow by during a run (bytes on disk, "
        "e.g. 4g). A command that takes it past this is stopped, and a later one may not grow it "
        "further.")
    max_file_size: Size = Field(
        16 << 20, description="Files larger than this (apparent size, so sparse files count "
        "whole) are left out of the diff, the changed files and commits: host git never reads "
        "them. The diff names them.")


class CalibrationConfig(Frozen):
    """Token ceilings calibrated from the project's run history (docs/calibration.md)."""

    min_runs: Annotated[StrictInt, Field(ge=5)] = Field(
        20, description="Usable runs (resolved, with a decomposition) the history needs before "
        "a run's cap is calibrated; below it the fixed token_cap alone applies.")
    quantile: float = Field(0.95, gt=0.5, lt=1.0, description="Quantile of a successful run's "
                            "tokens that the ceiling is fitted to (log scale).")
    headroom: float = Field(1.5, ge=1.0, description="The run's cap is min(token_cap, headroom "
                            "x the ceiling for its decomposition).")
    rambling_factor: float = Field(3.0, gt=1.0, description="A stage is `rambling` when its "
                                   "tokens pass this many times its expected figure.")
    history: str | None = Field(None, description="Directory of the per-project history files "
                                "(relative to this file); default: the user's data directory "
                                "($HARNESS_HOME, else $XDG_DATA_HOME/harness, else "
                                "~/.local/share/harness), subdirectory history/.")


class StagesFile(Frozen):
    """The whole of stages.yaml."""

    planner: StageConfig
    coder: StageConfig
    debugger: StageConfig | None = None
    reviewer: StageConfig | None = None
    token_cap: TokenCount = Field(DEFAULT_TOKEN_CAP,
                                  description="Circuit breaker: total tokens a run may spend.")
    cost_cap_usd: PositiveFloat | None = None
    sandbox: SandboxConfig = SandboxConfig()
    models: dict[str, ModelOverride] = Field(default_factory=dict)
    pricing: dict[str, PriceOverride] = Field(default_factory=dict)
    # Last, so the run-wide keys listed in diagnostics keep their order.
    calibration: CalibrationConfig = CalibrationConfig()

    @property
    def stages(self) -> dict[str, StageConfig]:
        """The configured stages, in pipeline order."""
        found = {role: getattr(self, role) for role in ROLES}
        return {role: stage for role, stage in found.items() if stage is not None}
