"""The fairness rules hold by construction: one listener set-up, one connection set-up, cpu lists checked."""
from __future__ import annotations

import socket

import pytest

from concbench import fairness


def test_listener_has_the_common_options():
    listener = fairness.listen_socket("127.0.0.1", 0)
    try:
        assert listener.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)
        assert listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        assert listener.getsockname()[0] == "127.0.0.1"
    finally:
        listener.close()


def test_ipv6_loopback_listener():
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        listener = fairness.listen_socket("::1", 0)
    except OSError:
        pytest.skip("::1 is not configured")
    try:
        assert listener.family == socket.AF_INET6
    finally:
        listener.close()


def test_connections_get_nodelay():
    with socket.socket() as sock:
        fairness.configure_connection(sock)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_cpu_lists():
    online = sorted(fairness.online_cpus())
    assert fairness.parse_cpus(str(online[0])) == (online[0],)
    assert fairness.parse_cpus(f"{online[0]}-{online[-1]}") == tuple(online)
    with pytest.raises(ValueError):
        fairness.parse_cpus("x")
    with pytest.raises(ValueError):
        fairness.parse_cpus("4096")


def test_default_split_keeps_server_and_load_generator_apart_when_possible():
    server, loadgen = fairness.default_cpu_split()
    if len(fairness.online_cpus()) >= 2:
        assert not set(server) & set(loadgen)


def test_open_file_limit_is_raised_to_the_hard_limit():
    import resource
    assert fairness.raise_open_file_limit() == resource.getrlimit(resource.RLIMIT_NOFILE)[1] or \
        resource.getrlimit(resource.RLIMIT_NOFILE)[1] == resource.RLIM_INFINITY
