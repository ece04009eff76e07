"""The command line, the only code that reads arguments: main.py runs a command to its exit code, parser.py builds
the one parser, arguments.py holds every option, commands.py the COMMANDS table, plans.py makes the studies' plans,
children.py parses the command lines of concbench's own child processes."""
from concbench.cli.main import main
from concbench.cli.parser import HelpFormatter, build_parser

__all__ = ["HelpFormatter", "build_parser", "main"]
