"""How the ``turnstile`` command fails: one line on stderr and a non-zero exit, never a traceback.

A user who mistypes a path or a port needs the path or the port named, not a stack of
frames or pydantic's links. ``TURNSTILE_DEBUG=1`` lets an unexpected error through with
its traceback, for a bug report.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from collections.abc import Callable
from typing import Any, NoReturn

__all__ = ["CliError", "OneLineParser", "one_line", "os_reason", "port", "run_guarded", "validation_summary"]

_SIGPIPE_EXIT = 141  # what a shell reports for a process ended by SIGPIPE (128 + 13)
_SHOWN_ERRORS = 3


class CliError(Exception):
    """A failure to report as it is worded, with the exit status it implies."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class _Formatter(argparse.HelpFormatter):
    def _split_lines(self, text: str, width: int) -> list[str]:
        # Not at hyphens: a default path (out/demo-trace.jsonl) stays whole on its line.
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (argparse prints the usage block first)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)  # the subcommands' parsers too
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def port(text: str) -> int:
    """An argparse type: a TCP port, 0 meaning any free one."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port (0-65535; 0: any free port)")
    return value


def one_line(text: object) -> str:
    return " ".join(str(text).split())


def validation_summary(exc: Any) -> str:
    """A pydantic ValidationError as ``where: what`` for its first few errors, no URLs."""
    errors = exc.errors(include_url=False)
    parts = []
    for error in errors[:_SHOWN_ERRORS]:
        where = ".".join(str(part) for part in error["loc"])
        parts.append(f"{where}: {error['msg']}" if where else str(error["msg"]))
    more = f" (and {len(errors) - _SHOWN_ERRORS} more)" if len(errors) > _SHOWN_ERRORS else ""
    return one_line("; ".join(parts) + more)


def os_reason(exc: OSError) -> str:
    """``Address already in use``, not aiohttp's or the resolver's longer wording."""
    return os.strerror(exc.errno) if exc.errno and exc.errno > 0 else (exc.strerror or str(exc))


def _os_error(exc: OSError) -> str:
    return f"{exc.filename}: {os_reason(exc)}" if exc.filename else os_reason(exc)


def _describe(exc: Exception) -> str:
    if isinstance(exc, OSError):
        return _os_error(exc)
    if type(exc).__name__ == "ValidationError":  # pydantic's, not imported to check for it
        return validation_summary(exc)
    if isinstance(exc, UnicodeDecodeError):
        return f"not a text file ({exc.reason})"
    if isinstance(exc, (ValueError, RuntimeError, LookupError)):
        return str(exc)
    # Unexpected: the type says what went wrong when the message alone would not.
    return f"{type(exc).__name__}: {exc} (TURNSTILE_DEBUG=1 shows the traceback)"


def _stdout_gone() -> int:
    # The reader went away (`turnstile scenario --schema | head`): as for any Unix tool,
    # that is not an error to report. Python would still complain while flushing at exit.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return _SIGPIPE_EXIT


def run_guarded(prog: str, command: Callable[[], int]) -> int:
    """Run a subcommand; any failure becomes ``prog: message`` on stderr and an exit status."""
    try:
        code = command()
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        return _stdout_gone()
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except CliError as exc:
        print(f"{prog}: {one_line(exc)}", file=sys.stderr)
        return exc.code
    except Exception as exc:
        if os.environ.get("TURNSTILE_DEBUG"):
            raise
        print(f"{prog}: {one_line(_describe(exc))}", file=sys.stderr)
        return 1
