"""The one parser of the command line: every command of the COMMANDS table as a subcommand, with its options
(concbench.cli.arguments), -q/-v before or after the command, and errors that are one line (UsageError, or BadInput
for the commands where exit 2 means inconclusive).

It owns the parser's shape and how help is formatted (every option states its default); nothing else parses arguments.
"""
from __future__ import annotations

import argparse

from concbench import __version__
from concbench.cli.arguments import add_verbosity_arguments
from concbench.cli.commands import COMMANDS
from concbench.errors import UsageError

DESCRIPTION = """\
concbench measures Python network servers written on different concurrency models (threads, pre-forked
processes, Twisted, Tornado, asyncio, gevent, uvloop...) serving the same scenarios, and says which is
faster, by how much and how sure that is. Every reply is verified; each measurement carries its evidence
(server CPU, load-generator CPU, errors, offered against achieved) and repetitions give a 95% interval.
"""
EPILOG = """\
examples:
  concbench list                                  runners and scenarios
  concbench run                                   the default suite (what make bench runs)
  concbench run --quick --runners asyncio threads a one-minute smoke run
  concbench show results/baseline.json --csv      a result file's cases for scripts
  concbench report results/baseline.json          charts, summary.md and index.html
  concbench compare BASE.json HEAD.json           regression check (exit 1 on a regression)
'-' as a FILE means standard output. `concbench COMMAND --help` lists a command's options and defaults.
exit codes: 0 ok; 1 a regression (compare, ab, regress) or a failed measurement (load, verify, ceiling, clients);
2 bad input (compare, ab: inconclusive); 3 bad input to compare, ab, regress; 4 a runner failed every repetition of
a case; 5 the result file could not be written; 128 + signal when interrupted (130 Ctrl-C). docs/cli.md has more.
"""


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's lines, and states every option's default: '(default: X)' is added to a help
    that does not already say its default (a default of None means the help must say what happens)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if not action.option_strings or "default" in text.lower() or action.nargs == 0 \
                or action.default == argparse.SUPPRESS:
            return text
        if action.required:
            return f"{text} (required)"
        if action.default in (None, [], ()):
            return f"{text} (default: none)"
        return f"{text} (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    bad_input = UsageError   # the exception (so the exit code) for a bad argument; BadInput for compare and ab

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        raise self.bad_input(message)


def build_parser() -> Parser:
    """The whole command line: `concbench [-q|-v] COMMAND ...`, one subcommand per entry of COMMANDS."""
    parser = Parser(prog="concbench", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"concbench {__version__}")
    add_verbosity_arguments(parser, argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser, metavar="COMMAND")
    for command in COMMANDS.values():
        p = sub.add_parser(command.name, help=command.help)
        p.bad_input = command.bad_input
        command.arguments(p)
        add_verbosity_arguments(p, argparse.SUPPRESS)
    parser.command_parsers = sub.choices   # command -> its parser (each says which error a bad argument raises)
    parser.set_defaults(command_line=(), run_args=())    # as given, and the plan's own (concbench.cli.main.parse)
    return parser
