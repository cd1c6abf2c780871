from __future__ import annotations

from harness.testing.loopback import gateway_of


def test_gateway_recorded_by_the_engine() -> None:
    assert gateway_of({"Subnet": "172.17.0.0/16", "Gateway": "172.17.0.1"}) == "172.17.0.1"


def test_fresh_engine_records_only_the_subnet() -> None:
    # What Debian's dockerd 20.10 reports for the default bridge right after it starts.
    assert gateway_of({"Subnet": "172.18.0.0/16"}) == "172.18.0.1"
