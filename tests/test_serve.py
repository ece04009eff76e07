"""The ready line of `concbench serve` (a contract the harness reads), written in the one child protocol."""
from __future__ import annotations

import os

from concbench.harness.protocol import parse_event, parse_ready_line
from concbench.harness.serve import ready_line


def test_ready_line_round_trips_its_fields_for_ipv4_and_ipv6():
    fields = parse_ready_line(ready_line("asyncio", "echo", "127.0.0.1", 8080, pool=16))
    assert (fields["runner"], fields["scenario"], fields["host"], fields["port"]) == ("asyncio", "echo", "127.0.0.1", 8080)
    assert fields["pid"] == os.getpid() and fields["pool"] == "16"         # a runner's own fields are text
    fields = parse_ready_line(ready_line("twisted", "http", "::1", 9))
    assert (fields["host"], fields["port"]) == ("::1", 9)


def test_only_a_json_object_naming_an_event_is_a_protocol_line():
    assert parse_ready_line("Traceback (most recent call last):") is None
    assert parse_ready_line('{"event": "result", "result": {}}') is None
    assert parse_event('{"event": "result", "result": {}}') == {"event": "result", "result": {}}
    for not_an_event in ('["event", "ready"]', '{"event": 1}', '{"ready": true}', '{"event": "ready"', ""):
        assert parse_event(not_an_event) is None
