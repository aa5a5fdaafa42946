"""What the ``turnstile`` command reads from the user: a chart class, a trace, a scenario.

Each loader turns a bad input into a :class:`CliError` that names the input and what is
wrong with it, in one line.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ._cli_errors import CliError, validation_summary

if TYPE_CHECKING:
    from turnstile.machine import Trace

    from .scenario import Scenario

__all__ = ["load_chart", "load_scenario_file", "read_trace"]


def _import(module: str, spec: str) -> object:
    # A console script's sys.path does not hold the current directory (``python -m``
    # does): --chart mymodule:MyChart must find mymodule.py where the user stands.
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module == exc.name or module.startswith(f"{exc.name}.")):
            raise CliError(f"--chart {spec}: no module named {exc.name!r} here ({cwd}) or installed", 2) from None
        raise CliError(f"--chart {spec}: importing {module} failed: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - the user's module raised while importing: say so
        raise CliError(f"--chart {spec}: importing {module} failed: {type(exc).__name__}: {exc}") from None


def load_chart(spec: str | None) -> type:
    """``package.module:ClassName`` -> the chart class (default: the built-in chart)."""
    from turnstile.machine import AgentChart

    if not spec:
        return AgentChart
    module, _, name = spec.partition(":")
    name = name or "AgentChart"
    chart = getattr(_import(module, spec), name, None)
    if chart is None:
        raise CliError(f"--chart {spec}: {module} has no {name}", 2)
    if not (isinstance(chart, type) and issubclass(chart, AgentChart)):
        raise CliError(f"--chart {spec}: {name} is not an AgentChart subclass", 2)
    return chart


def _read_text(path: str | Path, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CliError(f"{what} {path}: no such file", 2) from None
    except IsADirectoryError:
        raise CliError(f"{what} {path}: is a directory", 2) from None
    except UnicodeDecodeError:
        raise CliError(f"{what} {path}: not a text file", 2) from None
    except OSError as exc:
        raise CliError(f"{what} {path}: {exc.strerror or exc}", 2) from None


def read_trace(path: str) -> Trace:
    """A trace JSONL file; a bad line (a garbled or cut-off file) is named by its number."""
    from pydantic import ValidationError

    from turnstile.machine import Trace, TraceRecord

    records = []
    for number, line in enumerate(_read_text(path, "--trace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(TraceRecord.model_validate_json(line))
        except ValidationError as exc:
            problem = validation_summary(exc)
            raise CliError(f"--trace {path}, line {number}: not a trace record ({problem})", 2) from None
    if not records:
        raise CliError(f"--trace {path}: no trace records in it", 2)
    return Trace(records)


def load_scenario_file(path: str | None) -> Scenario:
    """A scenario JSON file, checked; ``None``: the bundled demo."""
    from pydantic import ValidationError

    from .scenario import load_scenario

    if path is None:
        return load_scenario(None)
    _read_text(path, "scenario")  # the file's own problems, named as such
    try:
        scenario = load_scenario(path)
    except ValidationError as exc:
        raise CliError(f"scenario {path} is not valid: {validation_summary(exc)}", 2) from None
    # A caller's WAV is read only when that turn comes, mid-call: check it now.
    for index, step in enumerate(scenario.steps):
        wav = getattr(step, "wav", None)
        if wav is not None and not (Path(path).parent / wav).is_file():
            raise CliError(f"scenario {path}: steps.{index}.wav: {wav}: no such file", 2)
    return scenario
