"""The http scenario without I/O: the shared parser's answers, and the client's response check."""
from __future__ import annotations

from email.utils import formatdate

from hypothesis import given, settings
from hypothesis import strategies as st

from concbench.scenarios.http import BODY, MAX_HEADER_BYTES, REQUEST, ResponseCheck, server_session_factory

NOW = 1_790_000_000.0


def session():
    return server_session_factory({}, clock=lambda: NOW)()


def test_plaintext_answer_follows_the_rules():
    reply = session().receive(REQUEST)
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert body == BODY
    assert b"\r\nContent-Type: text/plain\r\n" in head + b"\r\n"
    assert b"\r\nContent-Length: 13" in head
    assert b"\r\nServer: " in head
    assert b"\r\nDate: " + formatdate(NOW, usegmt=True).encode() in head
    assert ResponseCheck(clock=lambda: NOW).problem(reply) is None


def test_keep_alive_and_requests_split_anywhere():
    s = session()
    replies = b"".join(s.receive(REQUEST[i:i + 1]) for i in range(len(REQUEST)))   # one byte at a time
    replies += s.receive(REQUEST + REQUEST)                                          # two at once
    assert replies.count(b"HTTP/1.1 200 OK") == 3 and not s.closing


def test_other_paths_and_methods():
    assert session().receive(b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 404")
    assert session().receive(b"POST /plaintext HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").startswith(
        b"HTTP/1.1 405")


def test_connection_close_is_honoured():
    s = session()
    reply = s.receive(b"GET /plaintext HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200") and b"Connection: close" in reply and s.closing


def test_malformed_request_line_gets_400_and_close():
    s = session()
    assert s.receive(b"NOT A REQUEST\r\n\r\n").startswith(b"HTTP/1.1 400") and s.closing


def test_oversized_header_gets_431_and_close():
    s = session()
    big = b"GET /plaintext HTTP/1.1\r\nX-Big: " + b"a" * (MAX_HEADER_BYTES + 10) + b"\r\n\r\n"
    assert s.receive(big).startswith(b"HTTP/1.1 431") and s.closing


def test_half_a_request_gets_nothing_yet():
    s = session()
    assert s.receive(REQUEST[:20]) == b"" and not s.closing


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_never_break_the_session(data):
    s = session()
    reply = s.receive(data)
    assert isinstance(reply, bytes)
    if not s.closing:                         # still usable: a correct request after it is answered
        assert s.receive(b"\r\n" + REQUEST) is not None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(REQUEST)), max_size=10))
def test_any_split_of_a_request_gives_one_answer(cuts):
    s = session()
    points = sorted(set(cuts))
    pieces = [REQUEST[a:b] for a, b in zip([0] + points, points + [len(REQUEST)])]
    replies = b"".join(s.receive(piece) for piece in pieces)
    assert replies.count(b"HTTP/1.1 200 OK") == 1


def test_response_check_framing():
    check = ResponseCheck(clock=lambda: NOW)
    reply = session().receive(REQUEST)
    assert check.frame(reply[:10]) == 0
    assert check.frame(reply[:-1]) == 0
    assert check.frame(reply) == len(reply)
    assert check.frame(reply + reply) == len(reply)
    assert check.frame(b"HTTP/1.1 200 OK\r\nServer: x\r\n\r\nbody") == -1     # no Content-Length


def test_response_check_catches_what_is_wrong():
    good = session().receive(REQUEST)
    check = lambda r: ResponseCheck(clock=lambda: NOW).problem(r)  # noqa: E731
    assert check(good) is None
    assert "body" in check(good.replace(b"Hello, World!", b"Hello, Wordl!"))
    assert "status" in check(good.replace(b"200 OK", b"201 OK"))
    assert "Server" in check(good.replace(b"Server: concbench\r\n", b""))
    assert "Content-Type" in check(good.replace(b"text/plain", b"text/html"))
    old = formatdate(NOW - 3600, usegmt=True).encode()
    assert "not current" in check(good.replace(formatdate(NOW, usegmt=True).encode(), old))
    assert "Date" in check(good.replace(b"Date: ", b"Dat: "))


def test_rejection_is_exact_for_the_shared_session_and_any_4xx_or_close_for_own_stacks():
    from concbench.scenarios.http import rejection_ok
    assert rejection_ok(b"HTTP/1.1 400 Bad Request\r\n\r\n", b"400")
    assert not rejection_ok(b"HTTP/1.1 413 Too Large\r\n\r\n", b"431")
    assert not rejection_ok(b"", b"400")
    assert rejection_ok(b"HTTP/1.1 413 Too Large\r\n\r\n", b"431", own_http_stack=True)
    assert rejection_ok(b"HTTP/1.0 400 Bad Request\r\n\r\n", b"400", own_http_stack=True)
    assert rejection_ok(b"", b"400", own_http_stack=True)
    assert not rejection_ok(b"HTTP/1.1 200 OK\r\n\r\n", b"400", own_http_stack=True)
    assert not rejection_ok(b"<html>error</html>", b"400", own_http_stack=True)


@given(st.integers(min_value=0, max_value=4_000_000_000), st.lists(st.integers(min_value=0, max_value=200), max_size=40))
def test_the_date_header_is_formatdate_of_the_current_second_across_minutes_and_days(start, steps):
    """HttpDate rebuilds only the seconds within a minute: every value must still be exactly RFC 7231's
    IMF-fixdate of the clock's second (email.utils.formatdate with usegmt), whatever the sequence of seconds."""
    from concbench.scenarios.http import HttpDate
    now = [float(start)]
    date = HttpDate(lambda: now[0])
    for step in [0, *steps]:
        now[0] += step + 0.5 * (step % 2)
        assert date.now() == formatdate(int(now[0]), usegmt=True).encode()


def test_the_probes_judge_replies_without_a_socket():
    """The probes are sans-IO: a server session's own replies pass them; a close or a 200 for everything does not."""
    from concbench.scenarios.base import ProbeReply
    from concbench.scenarios.http import PROBES
    by_name = {probe.name: probe for probe in PROBES}
    not_found, malformed, keep_alive = (by_name[n] for n in ("not found", "malformed request line", "keep-alive"))
    served = server_session_factory({})()           # the real clock: the probe checks the Date header is current
    replies = [served.receive(request) for request in keep_alive.requests]
    frame = keep_alive.framer()
    assert all(frame(reply) == len(reply) for reply in replies)
    assert [keep_alive.judge(ProbeReply(i, reply)) for i, reply in enumerate(replies)] == [None, None]
    assert keep_alive.judge(ProbeReply(1, b"", closed=True)) == "the connection closed before keep-alive response 2"
    assert keep_alive.judge(ProbeReply(0, b"junk", unframeable=True)) == "keep-alive response 1: unframeable"
    assert not_found.judge(ProbeReply(0, session().receive(not_found.requests[0]))) is None
    always_200 = replies[0]
    assert "not 404" in not_found.judge(ProbeReply(0, always_200))
    rejected = session().receive(malformed.requests[0])
    assert malformed.framer()(rejected) == len(rejected) and malformed.judge(ProbeReply(0, rejected)) is None
    assert "not 400" in malformed.judge(ProbeReply(0, always_200))
    assert malformed.judge(ProbeReply(0, b"", closed=True, own_http_stack=True)) is None
    assert "not 4xx or a close" in malformed.judge(ProbeReply(0, always_200, own_http_stack=True))
