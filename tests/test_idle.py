"""The idle holder: connections are held only after a verified echo; a wrong server is reported, not held silently."""
from __future__ import annotations

from concbench.clients.idle import IdleHolder

from .brokenservers import BrokenServer, flip_last_byte


def test_holder_holds_verified_connections_and_closes_them():
    with BrokenServer(lambda data: data) as server, IdleHolder(None) as holder:
        assert holder.open("127.0.0.1", server.port, 30, 10) == {"held": 30, "failed": 0, "first_error": ""}
        assert holder.open("127.0.0.1", server.port, 5, 10)["held"] == 35
        assert holder.ask("close") == {"held": 0}


def test_a_wrong_echo_is_a_failure():
    with BrokenServer(flip_last_byte) as server, IdleHolder(None) as holder:
        answer = holder.open("127.0.0.1", server.port, 3, 10)
    assert answer["failed"] == 3 and "mismatch" in answer["first_error"]


def test_a_silent_server_fails_within_the_timeout():
    with BrokenServer(lambda data: None) as server, IdleHolder(None) as holder:
        answer = holder.open("127.0.0.1", server.port, 2, 0.5)
    assert answer["failed"] == 2 and "no verified echo" in answer["first_error"]
