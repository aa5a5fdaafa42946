"""Validation the providers' settings share: every bad setting fails at construction.

A misspelt name gets a "did you mean" (``voise="marin"`` used to do nothing), a value out
of range a one-line message naming the setting and what it accepts: finding out at
connect time, or never, costs a user far more than a constructor that refuses.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, SecretStr, ValidationError, model_validator

__all__ = [
    "Connection",
    "InvalidSettings",
    "Problem",
    "SecretHeaders",
    "Settings",
    "above",
    "at_least",
    "between",
    "check_ws_url",
    "keyword_names",
    "parse_settings",
    "redact_url",
    "reject_unknown",
    "secret_key",
    "unknown_name_message",
]

M = TypeVar("M", bound=BaseModel)
N = TypeVar("N", int, float)


def unknown_name_message(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(sorted(known))}"
    return f"unexpected keyword argument {name!r}{hint}"


def keyword_names(func: Callable[..., object]) -> list[str]:
    """The keyword-only parameters of ``func``: what a misspelt name may have meant."""
    params = inspect.signature(func).parameters.values()
    return [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]


def reject_unknown(owner: str, given: Iterable[str], known: Iterable[str]) -> None:
    """TypeError, as Python raises for any other unexpected keyword argument."""
    names = set(known)
    for name in given:
        if name not in names:
            raise TypeError(f"{owner}() got an {unknown_name_message(name, names)}")


class Settings(BaseModel):
    """Frozen, finite and closed: NaN, inf and unknown names are refused, not ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    def __init__(self, **data: Any) -> None:
        # Built by hand (``ServerVad(threshold=7)``): the same one-line message as the
        # provider's constructor gives, instead of pydantic's multi-line report.
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise InvalidSettings(type(self).__name__, _problems(exc)) from None

    @model_validator(mode="before")
    @classmethod
    def _known_names(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            for name in data:
                if name not in cls.model_fields:
                    raise ValueError(unknown_name_message(str(name), cls.model_fields))
        return data


def _check(ok: Callable[[float], bool], message: str) -> AfterValidator:
    def check(value: N) -> N:
        if not ok(value):
            raise ValueError(message)
        return value

    return AfterValidator(check)


def between(lo: float, hi: float) -> AfterValidator:
    return _check(lambda v: lo <= v <= hi, f"must be between {lo:g} and {hi:g}")


def at_least(lo: float) -> AfterValidator:
    return _check(lambda v: v >= lo, f"must be at least {lo:g}")


def above(lo: float) -> AfterValidator:
    return _check(lambda v: v > lo, f"must be greater than {lo:g}")


class Connection(Settings):
    """How a provider session connects and reconnects (both providers take these)."""

    max_retries: Annotated[int, at_least(0)] = 5
    """Reconnects after a drop before the session gives up."""
    backoff_base_s: Annotated[float, at_least(0)] = 0.5
    backoff_max_s: Annotated[float, at_least(0)] = 10.0
    connect_timeout_s: Annotated[float, above(0)] = 10.0
    """The most one connect (TCP, TLS and the websocket upgrade) may take."""

    @model_validator(mode="after")
    def _ordered(self) -> Connection:
        if self.backoff_max_s < self.backoff_base_s:
            raise ValueError(
                f"backoff_max_s ({self.backoff_max_s:g}) is below backoff_base_s ({self.backoff_base_s:g})"
            )
        return self


def parse_settings(owner: str, model: type[M], values: Mapping[str, object]) -> M:
    """``model`` validated from ``values``; InvalidSettings naming each bad setting otherwise."""
    try:
        return model.model_validate(dict(values))
    except ValidationError as exc:
        raise InvalidSettings(owner, _problems(exc)) from None  # pydantic's chain says it again


@dataclass(frozen=True)
class Problem:
    setting: str
    """Dotted, from the object being built: ``turn_detection.server_vad.threshold``."""
    shown: str
    """``=value`` as given, or nothing (a missing or unknown name has no value)."""
    why: str

    def __str__(self) -> str:
        return f"{self.setting}{self.shown}: {self.why}" if self.setting else self.why


class InvalidSettings(ValueError):
    """One or more bad settings, each named with its value and what it accepts, on one line."""

    def __init__(self, owner: str, problems: list[Problem]) -> None:
        self.owner = owner
        self.problems = problems
        super().__init__(f"{owner}: " + "; ".join(map(str, problems)))


def _problems(exc: ValidationError) -> list[Problem]:
    out: list[Problem] = []
    for err in exc.errors(include_url=False):
        setting = ".".join(str(p) for p in err["loc"] if not _is_union_tag(p))
        cause = err.get("ctx", {}).get("error")
        if isinstance(cause, InvalidSettings):  # a nested Settings built through its __init__
            out += [Problem(".".join(filter(None, (setting, p.setting))), p.shown, p.why) for p in cause.problems]
            continue
        why = str(cause) if err["type"] == "value_error" else err["msg"]
        shown = "" if err["type"] in ("missing", "extra_forbidden") or not setting else f"={_short(err['input'])}"
        out.append(Problem(setting, shown, why))
    return out


def _is_union_tag(part: int | str) -> bool:
    # pydantic names the union member it tried ("ServerVad", "constrained-str", "int"):
    # noise to a user, who only named the field.
    return isinstance(part, str) and (
        part[:1].isupper() or "-" in part or "[" in part or part in ("int", "float", "str")
    )


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class SecretHeaders(dict[str, str]):
    """Request headers that carry a credential. They print with every value masked: a
    logged or repr'd headers dict says which headers were sent, never the key."""

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{name!r}: '***'" for name in self) + "}"


def check_ws_url(owner: str, name: str, url: object) -> None:
    """A URL aiohttp can open a websocket to, refused here rather than at connect time."""
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme.lower() not in ("ws", "wss", "http", "https") or not parts.netloc:
        raise ValueError(f"{owner}: {name}={url!r} is not a URL: expected wss://host/path")


_SECRET_PARAMS = {"key", "api_key", "api-key", "apikey", "access_token", "token", "client_secret", "sig"}


def redact_url(url: str) -> str:
    """``url`` with the values of credential-like query parameters masked: Google documents
    ``?key=API_KEY`` on its websocket URL, so a user may well pass one."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = [(k, "***" if k.lower() in _SECRET_PARAMS else v) for k, v in pairs]
    return parts._replace(query=urlencode(query, safe="*")).geturl()


def secret_key(value: object, what: str) -> SecretStr:
    """The key as a SecretStr (its repr, str and JSON are masked); never echoed in errors."""
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    key = value.strip()  # a key read from a file keeps its newline
    if not key:
        raise ValueError(f"{what} is empty")
    if any(c.isspace() or not c.isprintable() for c in key):
        raise ValueError(f"{what} contains whitespace or control characters (not shown)")
    return SecretStr(key)
