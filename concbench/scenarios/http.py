"""The http scenario: TechEmpower's plaintext test over HTTP/1.1 keep-alive, without pipelining.

GET /plaintext answers 200 `Hello, World!` with Content-Type, Content-Length, Date and Server.
The server session uses httptools (llhttp, in C) as the one shared parser on every base runner, so the
concurrency model is the variable and parsing costs the same everywhere (the own-HTTP-stack variants
in concbench/runners/ use only PATH and BODY from here). Also here: the client's
response check, which every runner's replies must pass. No I/O; the clock is injected.
"""
from __future__ import annotations

import time
from email.utils import formatdate, parsedate_to_datetime

import httptools

from .base import ClientWorkload, Exchange, Probe, ProbeReply, Scenario

PATH = b"/plaintext"
BODY = b"Hello, World!"
SERVER = b"concbench"
BLANK_LINE_AND_BODY = b"\r\n\r\n" + BODY
MAX_HEADER_BYTES = 64 * 1024          # request line plus headers; beyond it: 431 and close
REQUEST = b"GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: concbench\r\n\r\n"


def response(status: bytes, body: bytes, date: bytes, close: bool = False) -> bytes:
    return (b"HTTP/1.1 " + status + b"\r\nServer: " + SERVER + b"\r\nContent-Type: text/plain\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\nDate: " + date + b"\r\n"
            + (b"Connection: close\r\n" if close else b"") + b"\r\n" + body)


class HttpDate:
    """The Date header value, recomputed once a second from the injected clock: formatted whole once a minute, and
    within the minute only its seconds replaced (a few hundred instructions instead of formatdate's ~25k, so that
    the per-second work of a server that is serving requests barely depends on how long a run takes)."""
    __slots__ = ("clock", "second", "value", "minute_prefix")

    def __init__(self, clock):
        self.clock, self.second, self.value, self.minute_prefix = clock, -1, b"", b""

    def now(self) -> bytes:
        second = int(self.clock())
        if second != self.second:
            if self.second >= 0 and second // 60 == self.second // 60:
                self.value = self.minute_prefix + b"%02d GMT" % (second % 60)
            else:                           # 'Sat, 05 Dec 2026 21:27:13 GMT': the prefix ends after the minutes
                self.value = formatdate(second, usegmt=True).encode()
                self.minute_prefix = self.value[:-6]
            self.second = second
        return self.value


class HttpSession:
    """One connection's server side: bytes in, responses out; `closing` once it must close."""
    __slots__ = ("parser", "date", "url", "header_bytes", "outgoing", "closing")

    def __init__(self, date: HttpDate):
        self.date = date
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.header_bytes = 0
        self.outgoing: list[bytes] = []
        self.closing = False

    # httptools callbacks
    def on_message_begin(self):
        self.url = b""
        self.header_bytes = 0

    def on_url(self, url: bytes):
        self.url += url
        self._count(len(url))

    def on_header(self, name: bytes, value: bytes):
        self._count(len(name) + len(value) + 4)

    def _count(self, size: int):
        self.header_bytes += size
        if self.header_bytes > MAX_HEADER_BYTES:
            raise HeaderTooLarge()

    def on_message_complete(self):
        keep_alive = self.parser.should_keep_alive()
        method = self.parser.get_method()
        if method == b"GET" and self.url == PATH:
            self.outgoing.append(response(b"200 OK", BODY, self.date.now(), close=not keep_alive))
        elif self.url.split(b"?")[0] != PATH:
            self.outgoing.append(response(b"404 Not Found", b"Not Found", self.date.now(), close=not keep_alive))
        else:
            self.outgoing.append(response(b"405 Method Not Allowed", b"Method Not Allowed", self.date.now(),
                                          close=not keep_alive))
        if not keep_alive:
            self.closing = True

    def receive(self, data: bytes) -> bytes:
        if self.closing:
            return b""
        try:
            self.parser.feed_data(data)
        except HeaderTooLarge:
            self._fail(b"431 Request Header Fields Too Large", b"Request Header Fields Too Large")
        except httptools.HttpParserUpgrade:
            self._fail(b"400 Bad Request", b"Upgrade not supported")
        except httptools.HttpParserError as exc:
            if isinstance(exc.__context__, HeaderTooLarge):
                self._fail(b"431 Request Header Fields Too Large", b"Request Header Fields Too Large")
            else:
                self._fail(b"400 Bad Request", b"Bad Request")
        out = b"".join(self.outgoing)
        self.outgoing.clear()
        return out

    def _fail(self, status: bytes, body: bytes):
        self.outgoing.append(response(status, body, self.date.now(), close=True))
        self.closing = True


class HeaderTooLarge(Exception):
    pass


class ResponseCheck:
    """The client's check of one response: status 200, exact body, the required headers, a current Date.

    A header block identical to the last one that passed (only Date changes, once a second) is
    accepted without parsing again, which keeps the check cheap on the load generator's hot path.
    """

    framing = "http/1.1 content-length"    # frame() as data, for the native engine (concbench/clients/_engine.c)
    max_header_bytes = MAX_HEADER_BYTES

    def __init__(self, clock=time.time, max_date_skew_s: float = 5.0):
        self.clock = clock
        self.max_date_skew_s = max_date_skew_s
        self.last_good_head = b""
        self.last_good_size = 0            # length of the last response that passed

    def frame(self, buffer) -> int:
        """Length of the first complete response in `buffer`, 0 if incomplete, -1 if it cannot be framed."""
        size = self.last_good_size
        if len(buffer) == size and buffer.endswith(BLANK_LINE_AND_BODY):
            return size                    # fast path: the usual response; problem() still checks its head
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return 0 if len(buffer) < MAX_HEADER_BYTES else -1
        head = bytes(buffer[:end]).lower()
        at = head.find(b"\r\ncontent-length:")
        if at < 0:
            return -1
        stop = head.find(b"\r\n", at + 2)
        try:
            length = int(head[at + 17: stop if stop > 0 else len(head)].strip())
        except ValueError:
            return -1
        total = end + 4 + length
        return total if len(buffer) >= total else 0

    def problem(self, message: bytes) -> str | None:
        """None if the response is right, else what is wrong with it."""
        if message.endswith(BLANK_LINE_AND_BODY) and message[:-len(BLANK_LINE_AND_BODY)] == self.last_good_head:
            return None                    # byte for byte the header block that passed last time
        end = message.find(b"\r\n\r\n")
        head, body = message[:end], message[end + 4:]
        if body != BODY:
            return f"body {body[:40]!r} is not {BODY!r}"
        if head == self.last_good_head:
            return None
        lines = head.split(b"\r\n")
        if lines[0] != b"HTTP/1.1 200 OK":
            return f"status line {lines[0][:60]!r}"
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep:
                return f"malformed header line {line[:60]!r}"
            headers[name.strip().lower()] = value.strip()
        if not headers.get(b"content-type", b"").startswith(b"text/plain"):
            return f"Content-Type {headers.get(b'content-type')!r}"
        if headers.get(b"content-length") != str(len(BODY)).encode():
            return f"Content-Length {headers.get(b'content-length')!r}"
        if not headers.get(b"server"):
            return "no Server header"
        if headers.get(b"connection", b"").lower() == b"close":
            return "server closes a keep-alive connection"
        try:
            date = parsedate_to_datetime(headers[b"date"].decode()).timestamp()
        except (KeyError, TypeError, ValueError, IndexError):
            return f"Date header missing or malformed: {headers.get(b'date')!r}"
        if abs(date - self.clock()) > self.max_date_skew_s:
            return f"Date header {headers[b'date']!r} is not current"
        self.last_good_head = head
        self.last_good_size = len(message)
        return None


def rejection_ok(reply: bytes, status: bytes, own_http_stack: bool = False) -> bool:
    """Is `reply` a right answer to a bad request? The shared session answers exactly `status`
    (400, 431); a framework's own HTTP stack may answer any 4xx or just close (b"")."""
    if not own_http_stack:
        return reply.startswith(b"HTTP/1.1 " + status)
    return reply == b"" or (reply[:9] in (b"HTTP/1.1 ", b"HTTP/1.0 ") and reply[9:10] == b"4")


def head_length(buffer: bytes) -> int:
    """Frame a reply by its header block alone (what a rejection of a malformed request needs), 0 if incomplete."""
    end = buffer.find(b"\r\n\r\n")
    return len(buffer) if end >= 0 else 0


def judge_not_found(reply: ProbeReply) -> str | None:
    if not reply.data.startswith(b"HTTP/1.1 404"):
        return f"GET /not-there answered {reply.data[:30]!r}, not 404"
    return None


def judge_malformed(reply: ProbeReply) -> str | None:
    """The shared session must answer a malformed request 400; a framework's own stack may answer any 4xx or close."""
    if not rejection_ok(reply.data, b"400", reply.own_http_stack):
        return (f"a malformed request line answered {reply.data[:30]!r}, not "
                + ("4xx or a close" if reply.own_http_stack else "400"))
    return None


def judge_keep_alive(reply: ProbeReply) -> str | None:
    """After the rejections, two requests on one connection: both answered correctly, the connection kept."""
    number = reply.index + 1
    if reply.closed:
        return f"the connection closed before keep-alive response {number}"
    problem = "unframeable" if reply.unframeable else ResponseCheck().problem(reply.data)
    return f"keep-alive response {number}: {problem}" if problem else None


# The edge rules `concbench verify` checks on every runner (concbench.studies.verify moves the bytes).
PROBES = (
    Probe("not found", (b"GET /not-there HTTP/1.1\r\nHost: x\r\n\r\n",), lambda: ResponseCheck().frame,
          judge_not_found),
    Probe("malformed request line", (b"BROKEN\r\n\r\n",), lambda: head_length, judge_malformed),
    Probe("keep-alive", (REQUEST, REQUEST), lambda: ResponseCheck().frame, judge_keep_alive),
)


def server_session_factory(params: dict, clock=time.time):
    date = HttpDate(clock)                 # shared by the sessions of one server process
    return lambda: HttpSession(date)


def client_workload(params: dict) -> ClientWorkload:
    return ClientWorkload((Exchange(REQUEST, b""),), response_check=ResponseCheck)


SCENARIO = Scenario(
    name="http",
    summary="GET /plaintext -> 200 'Hello, World!' (TechEmpower plaintext rules, keep-alive, no pipelining), "
            "one shared parser (httptools) on every base runner; the variants marked 'framework's own HTTP "
            "stack' use theirs",
    parameters=(),
    client_workload=client_workload,
    session_factory=server_session_factory,
    default=True,
    levels=(("default", (100,)), ("quick", (10,)), ("full", (1, 10, 100, 1000))),
    probes=PROBES,
)
