"""The argument types of the command line: each turns one word into a value or says, in one line, why it cannot
(argparse.ArgumentTypeError, which the parser makes a UsageError or BadInput). No other checks live here."""
from __future__ import annotations

import argparse

from concbench import fairness, registry


def whole_number_at_least(minimum: int):
    """An argparse type: a whole number of at least `minimum`."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a number of at least {minimum}, got {value}")
        return value
    return parse


positive_int = whole_number_at_least(1)
non_negative_int = whole_number_at_least(0)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {text}")
    return value


def port_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, got {value}")
    return value


def cpu_list(text: str) -> tuple[int, ...]:
    try:
        return fairness.parse_cpus(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def target(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise argparse.ArgumentTypeError(f"target must be HOST:PORT, got {text!r}")
    return host.strip("[]"), port_number(port)


def runner_option(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"runner option must be NAME=VALUE, got {text!r}")
    return name, value


def scenario_name(text: str) -> str:
    if text not in registry.SCENARIOS:
        raise argparse.ArgumentTypeError(
            f"unknown scenario {text!r} (known: {', '.join(registry.SCENARIOS)})")
    return text


def runner_name(text: str) -> str:
    text = registry.canonical(text)
    if text not in registry.RUNNERS:
        raise argparse.ArgumentTypeError(
            f"unknown runner {text!r} (known: {', '.join(registry.RUNNERS)})")
    return text
