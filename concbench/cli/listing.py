"""`concbench list`: the registry as the user reads it, one line per runner and scenario (-q: the names only;
--verbose: each runner's options and each scenario's parameters, and which runners do not apply and why)."""
from __future__ import annotations

from concbench import registry
from concbench.clients.native_engine import UNAVAILABLE_BECAUSE


def cmd_list(args) -> int:
    if not getattr(args, "verbose", 0):
        return list_compact(quiet=bool(getattr(args, "quiet", 0)))
    print(engine_line())
    print("Runners:")
    for runner in registry.RUNNERS.values():
        tag = "" if runner.default else "  [not in the default suite]"
        if runner.default_for:
            tag = f"  [in the default suite for {', '.join(runner.default_for)} only]"
        if runner.not_default_for:
            tag = f"  [not in the default suite for {', '.join(runner.not_default_for)}]"
        if runner.own_http_stack:
            tag += "  [http only]"
        if runner.group:
            tag += f"  [{runner.group}: make {runner.group}]"
        if runner.external:
            tag += f"  [EXTERNAL plugin from {runner.framework}]"
        variant = f" (variant of {runner.variant_of})" if runner.variant_of else ""
        print(f"  {runner.name:<20} {runner.framework} {runner.version():<10} {runner.model}{variant}{tag}")
        print(f"  {'':<20} {runner.summary}")
        if runner.note:
            print(f"  {'':<20} note: {runner.note}")
        for name, help_text in runner.options:
            print(f"  {'':<20} option {name}: {help_text}")
        if getattr(args, "verbose", False):
            fixed = ", ".join(f"{k}={v}" for k, v in runner.fixed_options) or "none"
            print(f"  {'':<20} module {runner.module}; fixed options: {fixed}")
            for scenario in registry.SCENARIOS:
                reason = registry.applicable(runner.name, scenario)
                if reason:
                    print(f"  {'':<20} does not serve {scenario}: {reason}")
    aliases = ", ".join(f"{old} -> {new}" for old, new in registry.ALIASES.items())
    print(f"  (old names still accepted: {aliases})")
    for problem in registry.PLUGIN_PROBLEMS:
        print(f"  PLUGIN PROBLEM: {problem}")
    print("Scenarios:")
    for scenario in registry.SCENARIOS.values():
        print(f"  {scenario.name:<20} {scenario.summary}")
        if scenario.measured_by:
            print(f"  {'':<20} measured by `{scenario.measured_by}`, not by run or load")
        for param in scenario.parameters:
            print(f"  {'':<20} --param {param.name}=N (default {param.default}): {param.help}")
        for runner in registry.RUNNERS:
            reason = registry.applicable(runner, scenario.name)
            if reason:
                print(f"  {'':<20} not on {runner}: {reason}")
    return 0


def engine_line() -> str:
    return ("Load generator engine: "
            + ("native (C, concbench.clients._engine)" if not UNAVAILABLE_BECAUSE else "uvloop: " + UNAVAILABLE_BECAUSE))


def list_compact(quiet: bool = False) -> int:
    """One line per runner and per scenario; -q: the names only; --verbose: options, parameters and reasons."""
    if quiet:
        print("\n".join([*registry.RUNNERS, *registry.SCENARIOS]))
        return 0
    print(engine_line())
    print("Runners (--verbose: options and what each one is):")
    for runner in registry.RUNNERS.values():
        tags = [] if runner.default else ["not default"]
        if runner.default_for:
            tags = [f"default for {', '.join(runner.default_for)} only"]
        if runner.not_default_for:
            tags.append(f"not default for {', '.join(runner.not_default_for)}")
        if runner.only_scenarios:
            tags.append(f"{', '.join(runner.only_scenarios)} only")
        if runner.group:
            tags.append(f"group {runner.group}: make {runner.group}")
        if runner.external:
            tags.append(f"EXTERNAL plugin from {runner.framework}")
        if runner.note.startswith("UNMAINTAINED"):
            tags.append("UNMAINTAINED upstream")
        tag = f"  [{'; '.join(tags)}]" if tags else ""
        print(f"  {runner.name:<20} {runner.framework} {runner.version():<10} {runner.model}{tag}")
    for problem in registry.PLUGIN_PROBLEMS:
        print(f"  PLUGIN PROBLEM: {problem}")
    print("Scenarios (--verbose: parameters, and which runners do not apply and why):")
    for scenario in registry.SCENARIOS.values():
        by = f" [measured by `{scenario.measured_by}`]" if scenario.measured_by else ""
        summary = scenario.summary if len(scenario.summary) <= 90 else scenario.summary[:87].rsplit(" ", 1)[0] + "..."
        print(f"  {scenario.name:<20} {summary}{by}")
    return 0
