"""--loadgen wrk: wrk's output parsed into a record (a fixture, no wrk needed), and a real run when wrk exists."""
from __future__ import annotations

import pytest

from concbench.clients import wrk

OUTPUT = """Running 2s test @ http://127.0.0.1:8000/plaintext
  1 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   152.14us  188.52us   4.93ms   98.73%
    Req/Sec    60.80k     3.25k   63.39k    90.91%
  Latency Distribution
     50%  137.00us
     75%  153.00us
     90%  180.00us
     99%  404.00us
  66278 requests in 1.10s, 8.47MB read
Requests/sec:  60249.17
Transfer/sec:      7.70MB
"""


def test_wrk_is_told_to_send_the_scenarios_own_headers():
    """wrk's default request has Host with the port and no User-Agent: the options rebuild the scenario's request."""
    from concbench.scenarios.http import REQUEST
    options = wrk.header_options()
    headers = options[1::2]
    assert options[::2] == ["-H"] * len(headers)
    assert b"GET /plaintext HTTP/1.1\r\n" + "".join(f"{h}\r\n" for h in headers).encode() + b"\r\n" == REQUEST


def test_parse_wrk_latency_output():
    record = wrk.parse(OUTPUT)
    assert record["requests"] == 66278 and record["window_s"] == pytest.approx(1.10)
    assert record["throughput_rps"] == pytest.approx(60249.17)
    assert record["latency_p50_s"] == pytest.approx(137e-6)
    assert record["latency_p99_s"] == pytest.approx(404e-6)
    assert record["latency_max_s"] == pytest.approx(4.93e-3)
    assert record["status"] == "ok" and record["loadgen"] == "wrk"


def test_non_2xx_and_socket_errors_fail_the_run():
    bad = OUTPUT.replace("Requests/sec", "  Non-2xx or 3xx responses: 12\n  Socket errors: connect 0, read 3, "
                                         "write 0, timeout 1\nRequests/sec")
    record = wrk.parse(bad)
    assert record["status"] == "failed"
    assert record["error_kinds"] == {"status": 12, "read": 3, "timeout": 1}


def test_other_output_is_refused():
    with pytest.raises(ValueError):
        wrk.parse("hello")
    with pytest.raises(ValueError):
        wrk.seconds("12 parsecs")


@pytest.mark.skipif(not wrk.available(), reason="wrk is not installed (Debian: apt-get install wrk)")
def test_real_wrk_run_against_a_runner():
    from .conftest import running_server
    with running_server("asyncio", "http") as server:
        record = wrk.run(f"http://127.0.0.1:{server.port}/plaintext", 2, 0, 1, None, lambda event: None)
    assert record["status"] == "ok" and record["requests"] > 0
