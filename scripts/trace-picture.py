#!/usr/bin/env python3
"""Run `harness demo` traced into a real OTLP/HTTP receiver on loopback and draw the trace it
received as a waterfall PNG (docs/telemetry.md shows the result). Not a trace backend's UI: the
same spans any OTLP backend would get, drawn by this script. Needs Docker and Pillow.

    scripts/trace-picture.py [--out docs/trace-demo.png] [--runs-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from click.testing import CliRunner  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from harness.cli import main as harness  # noqa: E402
from tests.runs.otlp_receiver import ReceivedSpan, otlp_receiver  # noqa: E402

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
COLOURS = {"invoke_agent": "#4C72B0", "chat": "#DD8452", "execute_tool": "#55A868",
           None: "#8172B3"}
ROW, LEFT, WIDTH = 22, 560, 1500


def ordered(spans: list[ReceivedSpan]) -> list[tuple[int, ReceivedSpan]]:
    """Depth-first, children by start time: (depth, span)."""
    children: dict[str, list[ReceivedSpan]] = {}
    for span in sorted(spans, key=lambda s: s.start_ns):
        children.setdefault(span.parent_id, []).append(span)
    out: list[tuple[int, ReceivedSpan]] = []

    def walk(parent: str, depth: int) -> None:
        for span in children.get(parent, []):
            out.append((depth, span))
            walk(span.span_id, depth + 1)

    walk("", 0)
    return out


def label(span: ReceivedSpan) -> str:
    a = span.attributes
    extra = ""
    if "gen_ai.usage.input_tokens" in a:
        extra = (f"  in {a['gen_ai.usage.input_tokens']} out {a['gen_ai.usage.output_tokens']}"
                 f"  ${a.get('harness.cost_usd', 0):.4f}")
    if "harness.outcome" in a:
        extra += f"  {a['harness.outcome']}"
    if "harness.status" in a:
        extra += f"  {a['harness.status']}"
    return span.name + extra


def draw(spans: list[ReceivedSpan], out: Path) -> None:
    rows = ordered(spans)
    start = min(s.start_ns for s in spans)
    total = max(s.end_ns for s in spans) - start or 1
    font = ImageFont.truetype(FONT, 12)
    height = ROW * (len(rows) + 2)
    image = Image.new("RGB", (WIDTH, height), "white")
    pen = ImageDraw.Draw(image)
    scale = (WIDTH - LEFT - 90) / total
    pen.text((8, 4), f"trace {spans[0].trace_id}  ({len(spans)} spans, {total / 1e9:.1f} s)",
             fill="black", font=font)
    for i, (depth, span) in enumerate(rows, start=1):
        y = i * ROW + 4
        if i % 2:
            pen.rectangle((0, y - 3, WIDTH, y + ROW - 4), fill="#F4F4F4")
        pen.text((8 + 14 * depth, y), label(span)[:80 - 2 * depth], fill="black", font=font)
        x0 = LEFT + (span.start_ns - start) * scale
        x1 = max(x0 + 2, LEFT + (span.end_ns - start) * scale)
        colour = COLOURS.get(span.attributes.get("gen_ai.operation.name"), COLOURS[None])
        pen.rectangle((x0, y, x1, y + ROW - 8), fill="#C44E52" if span.status == 2 else colour)
        pen.text((x1 + 4, y), f"{(span.end_ns - span.start_ns) / 1e6:.0f} ms",
                 fill="#555555", font=font)
    image.save(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "trace-demo.png")
    parser.add_argument("--runs-dir", type=Path, default=None)
    args = parser.parse_args()
    runs = args.runs_dir or Path(tempfile.mkdtemp(prefix="trace-picture-"))
    with otlp_receiver() as receiver:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.endpoint
        result = CliRunner(env=env).invoke(harness, ["demo", "--runs-dir", str(runs)])
    print(result.output)
    if not receiver.spans:
        print("no spans received", file=sys.stderr)
        return 1
    draw(receiver.spans, args.out)
    print(f"{len(receiver.spans)} spans -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
