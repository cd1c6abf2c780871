"""The paired bootstrap: deterministic with its fixed seed, and right on known cases."""

from __future__ import annotations

import pytest

from harness.eval.bootstrap import paired_bootstrap


def test_the_same_inputs_give_the_same_interval() -> None:
    a = [1, 0, 1, 0, 0, 1, 1, 0, 1, 0]
    b = [1, 1, 1, 0, 1, 1, 1, 0, 1, 1]
    first, second = paired_bootstrap(a, b), paired_bootstrap(a, b)
    assert first == second
    assert first.mean == pytest.approx(0.3)
    assert first.n == 10
    assert 0.0 <= first.low <= first.mean <= first.high <= 0.6


def test_a_constant_difference_has_no_width() -> None:
    got = paired_bootstrap([0.10, 0.25, 0.40], [0.15, 0.30, 0.45])
    assert got.mean == pytest.approx(0.05)
    assert got.low == pytest.approx(0.05)
    assert got.high == pytest.approx(0.05)
    assert got.excludes_zero()


def test_no_difference_includes_zero_and_empty_is_empty() -> None:
    same = paired_bootstrap([1, 0, 1, 0], [0, 1, 1, 0])
    assert same.low < 0 < same.high
    assert not same.excludes_zero()
    assert paired_bootstrap([], []).n == 0


def test_unpaired_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        paired_bootstrap([1], [1, 0])
