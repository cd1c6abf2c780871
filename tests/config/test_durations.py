from __future__ import annotations

import pytest

from harness.config.durations import DurationError, format_duration, parse_duration


@pytest.mark.parametrize(("text", "seconds"), [
    ("300s", 300), ("2m", 120), ("1h", 3600), ("1h30m", 5400), ("1.5s", 1.5), ("1500ms", 1.5),
    ("24h", 86400),
])
def test_valid(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(("value", "message", "hint"), [
    (300, "`300` has no unit", "write 300s"),
    (-5, "`-5` has no unit", "write -5s"),
    ("-5s", "`-5s` is negative", "positive duration"),
    ("0s", "`0s` is zero", "some time"),
    ("500ms", "shorter than 1s", "at least 1s"),
    ("25h", "longer than 24h", "at most 24h"),
    ("5 minutes", "is not a duration", "ms, s, m, h"),
    ("", "is not a duration", "e.g. 300s"),
    (None, "is not a duration", "with a unit"),
])
def test_refused(value: object, message: str, hint: str) -> None:
    with pytest.raises(DurationError) as info:
        parse_duration(value)
    assert message in str(info.value)
    assert hint in info.value.hint


@pytest.mark.parametrize(("seconds", "text"), [(300, "300s"), (3600, "1h"), (5400, "1h30m"),
                                                (1.5, "1.5s")])
def test_format_round_trips(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(format_duration(seconds)) == seconds
