"""The ready line of `concbench serve` (a contract the harness reads) and reading it while it is written."""
from __future__ import annotations

import os

from concbench.harness.serve import complete_lines, parse_ready_line, ready_line


def test_ready_line_round_trips_its_fields_for_ipv4_and_ipv6():
    fields = parse_ready_line(ready_line("asyncio", "echo", "127.0.0.1", 8080, pool=16))
    assert (fields["runner"], fields["scenario"], fields["host"], fields["port"]) == ("asyncio", "echo", "127.0.0.1", 8080)
    assert fields["pid"] == os.getpid() and fields["pool"] == "16"
    fields = parse_ready_line(ready_line("twisted", "http", "::1", 9))
    assert (fields["host"], fields["port"]) == ("::1", 9)
    assert parse_ready_line("Traceback (most recent call last):") is None


def test_a_line_still_being_written_is_not_read():
    line = ready_line("asyncio", "echo", "127.0.0.1", 34409)
    assert complete_lines(line[:-4]) == []
    assert complete_lines(line + "\n" + line[:10]) == [line]
    assert complete_lines("a\n\nb\n") == ["a", "", "b"]
