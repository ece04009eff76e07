"""`concbench ...`: one command run from its arguments to its exit code, the only place where exceptions and signals
become exit codes (the codes themselves: concbench.errors.ExitCode).

It owns what happens around every command: -q/-v, `-o -` (the result file to stdout), --resume (the plan re-read
from the file), stop signals for the commands that start children, bad input as one line, a closed stdout pipe.
"""
from __future__ import annotations

import contextlib
import os
import select
import sys
import tempfile

from concbench import console
from concbench.cli.commands import COMMANDS
from concbench.cli.parser import build_parser
from concbench.errors import BadInput, ExitCode, UsageError
from concbench.harness import lifecycle
from concbench.results import run_file


VERBOSITY_FLAGS = ("-q", "--quiet", "-v", "--verbose")    # how much is printed: not part of a plan


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser()
        args = parse(parser, argv)
        console.set_verbosity(getattr(args, "quiet", 0) or 0, getattr(args, "verbose", 0) or 0)
        command = COMMANDS[args.command]
        if command.result_file and getattr(args, "resume", None):
            args = resumed(parser, args)
        if command.result_file and args.output == "-":
            code = result_to_stdout(args, command)
        else:
            code = run_command(args, command)
        sys.stdout.flush()                     # a closed pipe shows here, not in the interpreter's exit
        return code
    except BrokenPipeError:
        return quiet_broken_pipe()
    except UsageError as exc:
        print(f"concbench: error: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except BadInput as exc:
        print(f"concbench: error: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    except KeyboardInterrupt:
        print("concbench: interrupted", file=sys.stderr)
        return 130


def parse(parser, argv: list[str]):
    """The arguments, with the command line as given (command_line) and the command's own arguments without the
    options that only say where results go (run_args: what a result file records, and --resume re-plans from)."""
    args, unknown = parser.parse_known_args(argv)
    if unknown:   # as parse_args would, but with the command's own exit code (3 for compare and ab)
        raise parser.command_parsers[args.command].bad_input(f"unrecognized arguments: {' '.join(unknown)}")
    args.command_line = argv
    own = argv[argv.index(args.command) + 1:] if args.command in argv else []
    args.run_args = [arg for arg in run_file.strip_output_options(own) if arg not in VERBOSITY_FLAGS]
    return args


def resumed(parser, args):
    """--resume FILE: the plan options given now, or (none given) the ones the file was run with; output options
    always from this invocation. The study then refuses the file if its plan differs."""
    if args.output:
        raise UsageError("--resume FILE writes to FILE itself; drop -o")
    previous = run_file.read_previous(args.resume)
    own = run_file.resume_argv(list(args.run_args), previous)
    planned = parse(parser, [args.command, *own])
    for name in ("resume", "force", "output", "command_line"):
        setattr(planned, name, getattr(args, name))
    for name in ("no_report", "report_dir", "no_chart"):
        if hasattr(args, name):
            setattr(planned, name, getattr(args, name))
    planned.previous = previous
    return planned


def run_command(args, command) -> int:
    """The command's handler; for one that starts children, a stop signal stops every child and exits 128 + signal
    (a study of the pipeline keeps its file first and says so)."""
    if not command.stoppable:
        return command.handler(args)
    with lifecycle.interruptible():
        try:
            return command.handler(args)
        except lifecycle.Interrupted as exc:       # before a study's loop (the pipeline handles its own)
            lifecycle.stop_all()
            print(f"\nconcbench {args.command}: {exc.name} received; every child process stopped", file=sys.stderr)
            if command.result_file and not getattr(args, "previous", None):
                print(f"concbench {args.command}: interrupted before the first measurement finished; no result file "
                      f"written", file=sys.stderr)
            return exc.exit_code


def result_to_stdout(args, command) -> int:
    """`-o -`: the command writes its result file to a temporary place, its usual output goes to stderr, and
    the result file (pyperf JSON) is copied to stdout at the end; no report is drawn (it needs a file)."""
    with tempfile.TemporaryDirectory(prefix="concbench-") as folder:
        args.output = os.path.join(folder, "result.json")
        for name in ("no_report", "no_chart"):
            if hasattr(args, name):
                setattr(args, name, True)
        with contextlib.redirect_stdout(sys.stderr):
            code = run_command(args, command)
        if os.path.exists(args.output):
            with open(args.output) as result:
                sys.stdout.write(result.read())
            sys.stdout.flush()
        return code


def quiet_broken_pipe() -> int:
    """The reader of our stdout went away (`concbench list | head`): end quietly, as a command killed by
    SIGPIPE would (exit 141), without the traceback or the 'Exception ignored' at exit. A broken pipe on
    anything but stdout (a socket, say) is a real error and is raised again."""
    if not stdout_reader_gone():
        raise
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())              # Python flushes stdout again at exit
    return ExitCode.BROKEN_PIPE


def stdout_reader_gone() -> bool:
    """True when stdout is a pipe with no reader left (poll reports an error on its write end)."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (OSError, ValueError, AttributeError):
        return False
