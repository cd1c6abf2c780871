"""What each stage is: its system prompt, its tools with the terminal one, and the result that
ends its attempt. The Debugger's role is made per call (its owners come from the config)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, create_model

from harness.pipeline.manifest import Diagnosis, Manifest, Review
from harness.pipeline.prompts import CODER, DEBUGGER, PLANNER, REVIEWER
from harness.pipeline.tools import EDIT, READ_ONLY, SPECS, Toolbox, terminal_spec, toolbox


class Finish(BaseModel):
    summary: str


@dataclass(frozen=True)
class Role:
    system: str
    box: Toolbox
    result: type[BaseModel]
    text_is_result: bool = False


PLANNER_ROLE = Role(PLANNER, toolbox(READ_ONLY, terminal_spec(
    "submit_manifest", "Submit the plan.", Manifest)), Manifest)
CODER_ROLE = Role(CODER, toolbox((*READ_ONLY, *EDIT), SPECS["finish"]), Finish,
                  text_is_result=True)
REVIEWER_ROLE = Role(REVIEWER, toolbox(READ_ONLY, terminal_spec(
    "submit_review", "Submit the review.", Review)), Review)


def debugger_role(owners: tuple[str, ...]) -> Role:
    """The Debugger, whose diagnosis may name only the stages it can route to (the schema lists
    them)."""
    owner_type: Any = Literal[owners]
    model = create_model("RoutedDiagnosis", __base__=Diagnosis, owner=(owner_type, ...))
    return Role(DEBUGGER, toolbox((*READ_ONLY, "run_command"), terminal_spec(
        "submit_diagnosis", "Submit the diagnosis.", model)), model)
