"""The `autoresearch` command line: builds the parser from the sub-command modules, turns errors into exit codes."""

from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

from . import __version__, runner
from .commands import ALL
from .errors import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, EXIT_REFUSED, EngineError


LOOP = """the loop:
  autoresearch init --name "faster tests" --metric-name total_ms --unit ms --direction lower
  git commit -am "experiment: …"        # one idea per commit
  autoresearch run                      # runs autoresearch.sh, proposes keep/discard/crash/checks_failed
  autoresearch log --description "…"    # records the pending result (status taken from run)
  autoresearch revert                   # after discard, crash or checks_failed
  autoresearch status | resume          # where things stand; what a fresh agent needs
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autoresearch",
        description="Run benchmarks, decide keep or discard, and keep an append-only experiment log.",
        epilog=LOOP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"autoresearch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in ALL:
        command.register(sub)
    return parser


def _attach_values(argv: List[str], parser: argparse.ArgumentParser) -> List[str]:
    """Turn `--opt VALUE` into `--opt=VALUE` so a value may start with '-' (-O2, -1e16, -inf)."""
    takes_value = set()
    for action in parser._subparsers._group_actions[0].choices.values() if parser._subparsers else []:
        for option in action._actions:
            if option.option_strings and option.nargs is None and not isinstance(
                    option, (argparse._StoreTrueAction, argparse._HelpAction)):
                takes_value.update(s for s in option.option_strings if s.startswith("--"))
    out, i = [], 0
    while i < len(argv):
        token = argv[i]
        if token == "--":
            out.extend(argv[i:])
            break
        if token in takes_value and i + 1 < len(argv):
            if argv[i + 1] == "--":  # argparse would drop it and take an empty value
                parser.error(f"{token} needs a value, not '--'; write {token}=VALUE")
            out.append(f"{token}={argv[i + 1]}")
            i += 2
            continue
        out.append(token)
        i += 1
    return out


def main(argv: Optional[List[str]] = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        # paths and git output may hold bytes that are not UTF-8 (kept as lone surrogates): printed escaped,
        # never a UnicodeEncodeError
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(_attach_values(argv, parser))
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_REFUSED
    try:
        with runner.termination_interrupts():  # SIGTERM and SIGHUP end the command as Ctrl-C does
            code = args.func(args)
            sys.stdout.flush()  # here, so that a reader gone by now is met below and not at interpreter exit
        return code
    except EngineError as exc:
        print(f"autoresearch: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        print("autoresearch: interrupted; nothing was logged.", file=sys.stderr)
        return 128 + exc.signum if isinstance(exc, runner.Terminated) else EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader stopped reading (`| head`, `| cut` at its end): not an error worth a message. Output still
        # buffered would fail again at exit, so stdout goes to /dev/null from here.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except OSError as exc:
        print(f"autoresearch: error: {exc.strerror or exc} ({exc.filename or 'no file'}); check the path and "
              "its permissions.", file=sys.stderr)
        return EXIT_REFUSED
