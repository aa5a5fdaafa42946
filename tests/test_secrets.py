"""No secret is reachable through a repr, an error or a log.

A marker key is set in every public object that takes one (directly and through each
environment variable), then looked for in their reprs and strs, the reprs of their
attributes, their sessions, their JSON dumps, and in everything a refused connect leaves
behind: the exception chain, the log records (at DEBUG) and the agent's error events.
The refusal is real: an aiohttp app on 127.0.0.1 answers the websocket upgrade with 401,
and it records the credentials it was sent, proving each one did go out.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import traceback
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from aiohttp import web
from pydantic import SecretStr, TypeAdapter

from turnstile.adapters.gemini import GeminiLive
from turnstile.adapters.livekit import LiveKitSettings, agent_token, join_and_run
from turnstile.adapters.local import LocalRoom
from turnstile.adapters.openai import OpenAIRealtime
from turnstile.machine import AgentError, ChatContext, RealtimeAgent

MARKER = "sk-MARKER-123"
ENV_NAMES = ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "GOOGLE_API_KEY", "GEMINI_API_KEY",
             "LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")
AZURE = {"azure_endpoint": "https://res.openai.azure.com", "azure_deployment": "gpt-realtime"}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def texts(obj: object, depth: int = 3) -> Iterator[str]:
    """What printing, logging or pretty-printing ``obj`` or its parts could show."""
    yield repr(obj)
    yield str(obj)
    # A SecretStr is where a key belongs: it prints masked, and only get_secret_value() opens it.
    if depth == 0 or isinstance(obj, (str, bytes, int, float, bool, type(None), SecretStr)):
        return
    parts: list[object] = []
    if hasattr(obj, "__dict__"):
        parts += vars(obj).values()
    for cls in type(obj).__mro__:
        parts += [getattr(obj, s) for s in getattr(cls, "__slots__", ()) if hasattr(obj, s)]
    if isinstance(obj, dict):
        parts += obj.values()
    if isinstance(obj, (list, tuple, set)):
        parts += obj
    for part in parts:
        if not callable(part) or hasattr(part, "__self__"):  # not functions, but bound methods' owners
            yield from texts(part, depth - 1)


def assert_hidden(*objects: object) -> None:
    for obj in objects:
        for text in texts(obj):
            assert MARKER not in text, f"the marker shows through {type(obj).__name__}: {text[:200]}"


def exception_texts(exc: BaseException) -> Iterator[str]:
    """str, repr and args of ``exc`` and of everything it chains to, and its traceback."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield str(e)
        yield repr(e)
        yield from map(repr, e.args)
        todo += [e.__cause__, e.__context__]  # __context__ even when suppressed: still reachable
    yield "".join(traceback.format_exception(exc))


def sessions_of(provider: OpenAIRealtime | GeminiLive) -> list[object]:
    return [provider.session(chat_ctx=ChatContext(), tools=[], on_event=lambda ev: None)]


def providers(env: pytest.MonkeyPatch) -> list[tuple[str, Callable[[], OpenAIRealtime | GeminiLive]]]:
    def from_env(name: str, make: Callable[[], OpenAIRealtime | GeminiLive]) -> OpenAIRealtime | GeminiLive:
        env.setenv(name, MARKER)
        try:
            return make()
        finally:
            env.delenv(name)

    return [
        ("openai api_key", lambda: OpenAIRealtime(api_key=MARKER)),
        ("openai SecretStr", lambda: OpenAIRealtime(api_key=SecretStr(MARKER))),
        ("openai beta", lambda: OpenAIRealtime(api_key=MARKER, dialect="beta")),
        ("OPENAI_API_KEY", lambda: from_env("OPENAI_API_KEY", OpenAIRealtime)),
        ("azure api_key", lambda: OpenAIRealtime(api_key=MARKER, **AZURE)),
        ("AZURE_OPENAI_API_KEY", lambda: from_env("AZURE_OPENAI_API_KEY", lambda: OpenAIRealtime(**AZURE))),
        ("gemini api_key", lambda: GeminiLive(api_key=MARKER)),
        ("vertex token", lambda: GeminiLive(api_key=MARKER, vertex_project="proj")),
        ("GOOGLE_API_KEY", lambda: from_env("GOOGLE_API_KEY", GeminiLive)),
        ("GEMINI_API_KEY", lambda: from_env("GEMINI_API_KEY", GeminiLive)),
    ]


def test_provider_configs_and_their_sessions_never_show_the_key(env: pytest.MonkeyPatch) -> None:
    for name, make in providers(env):
        provider = make()
        headers = provider.headers()
        assert any(MARKER in v for v in headers.values()), name  # the key is there, and is sent
        assert MARKER not in f"{headers!r} {headers}", name  # a logged headers dict is masked
        assert_hidden(provider, provider.options, *sessions_of(provider), *provider.sessions)
        assert MARKER not in provider.options.model_dump_json(), name
        assert MARKER not in provider.url, name


def test_livekit_settings_never_show_the_secret(env: pytest.MonkeyPatch) -> None:
    env.setenv("LIVEKIT_URL", "https://example.livekit.cloud")
    env.setenv("LIVEKIT_API_KEY", "APIkey")
    env.setenv("LIVEKIT_API_SECRET", MARKER * 3)  # 39 bytes: a key length HS256 accepts quietly
    for settings in (LiveKitSettings.from_env(), LiveKitSettings("wss://x.livekit.cloud", "APIkey", MARKER * 3)):
        assert settings.api_secret.get_secret_value() == MARKER * 3  # readable on purpose only
        assert_hidden(settings, dataclasses.asdict(settings))
        assert MARKER not in TypeAdapter(LiveKitSettings).dump_json(settings).decode()
        token = agent_token(settings, room="lobby", identity="agent")
        assert MARKER not in token  # signed with the secret, not carrying it


@pytest.mark.parametrize(
    "make",
    [
        lambda: OpenAIRealtime(api_key=f" {MARKER}\n{MARKER} "),
        lambda: OpenAIRealtime(api_key=MARKER, temperature=99),
        lambda: OpenAIRealtime(api_key=MARKER, voise="marin"),
        lambda: GeminiLive(api_key=f"{MARKER}\x00"),
        lambda: GeminiLive(api_key=MARKER, temperature=99),
        lambda: LiveKitSettings("localhost", "APIkey", MARKER),
    ],
)
def test_settings_errors_never_quote_the_key(make: Callable[[], object]) -> None:
    with pytest.raises((ValueError, TypeError)) as info:
        make()
    for text in exception_texts(info.value):
        assert MARKER not in text


# A server that refuses every websocket upgrade ----------------------------------------
@contextlib.asynccontextmanager
async def refusing_server() -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    """``http://127.0.0.1:port`` answering everything with 401, and the headers it got."""
    received: list[dict[str, str]] = []

    async def refuse(request: web.Request) -> web.Response:
        received.append(dict(request.headers))
        return web.json_response({"error": {"code": "invalid_api_key"}}, status=401)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", refuse)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", received
    finally:
        await runner.cleanup()


def against(base: str) -> list[OpenAIRealtime | GeminiLive]:
    ws = base.replace("http", "ws", 1)
    return [
        OpenAIRealtime(api_key=MARKER, url=f"{ws}/v1/realtime", max_retries=0),
        OpenAIRealtime(api_key=MARKER, azure_endpoint=base, azure_deployment="gpt-realtime", max_retries=0),
        GeminiLive(api_key=MARKER, url=f"{ws}/ws/live", max_retries=0),
        GeminiLive(api_key=MARKER, vertex_project="proj", url=f"{ws}/ws/live", max_retries=0),
    ]


def assert_sent(received: list[dict[str, str]]) -> None:
    # Non-vacuous: the credential went out, so its absence below is the sanitising.
    assert received and any(MARKER in v for v in received[-1].values()), received


def assert_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    for record in caplog.records:
        shown = [record.getMessage(), repr(record.args), repr(record.exc_info and record.exc_info[1])]
        if record.exc_info:
            shown.append("".join(traceback.format_exception(*record.exc_info)))
        for text in shown:
            assert MARKER not in text, f"{record.name}: {text[:300]}"


async def test_a_refused_connect_raises_and_logs_no_key(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with refusing_server() as (base, received):
        for provider in against(base):
            session = provider.session(chat_ctx=ChatContext(), tools=[], on_event=lambda ev: None)
            try:
                with pytest.raises(Exception) as info:
                    async with asyncio.timeout(10):
                        await session.connect()
            finally:
                await session.aclose()
            assert_sent(received)
            for text in exception_texts(info.value):
                assert MARKER not in text, f"{provider!r}: {text[:300]}"
    assert_not_logged(caplog)


async def test_an_agent_refused_by_the_server_reports_no_key(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with refusing_server() as (base, received):
        for provider in against(base):
            room = LocalRoom()
            agent = RealtimeAgent(provider)
            errors: list[AgentError] = []
            agent.on("error", errors.append)
            try:
                await agent.start(room)
                await agent.wait_for_state("closed", timeout=10)
            finally:
                await agent.aclose()
                await room.aclose()
            assert_sent(received)
            assert errors and not errors[-1].recoverable
            for error in errors:
                assert MARKER not in f"{error!r} {error.message} {error.model_dump_json()}"
            assert_hidden(agent, provider, *provider.sessions)
    assert_not_logged(caplog)


async def test_a_refused_room_join_shows_neither_secret_nor_token(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with refusing_server() as (base, received):
        settings = LiveKitSettings(base.replace("http", "ws", 1), "APIkey", MARKER * 3)
        with pytest.raises(ConnectionError) as info:
            async with asyncio.timeout(30):
                await join_and_run(settings, room_name="lobby", provider=OpenAIRealtime(api_key=MARKER))
    # The SDK sends the minted token as a bearer credential: it is a secret of its own.
    tokens = [v.split()[-1] for h in received for k, v in h.items() if k.lower() == "authorization"]
    assert tokens and all(t.count(".") == 2 for t in tokens), received
    for text in [*exception_texts(info.value), *(r.getMessage() for r in caplog.records)]:
        assert MARKER not in text
        assert not any(t in text for t in tokens), text[:300]
    assert "could not join room 'lobby'" in str(info.value)


@pytest.mark.parametrize(
    "make",
    [
        lambda: GeminiLive(api_key="g", url=f"wss://example.test/ws/live?key={MARKER}&alt=json"),
        lambda: OpenAIRealtime(api_key="k", url=f"wss://example.test/v1/realtime?model=m&api-key={MARKER}"),
    ],
)
def test_a_key_passed_in_the_url_is_masked_in_the_repr(make: Callable[[], object]) -> None:
    provider = make()
    assert MARKER in provider.url  # type: ignore[attr-defined]  # it is what gets connected to
    shown = f"{provider!r} {provider}"
    assert MARKER not in shown and "***" in shown and "example.test" in shown


def test_logged_headers_are_masked() -> None:
    headers = OpenAIRealtime(api_key=MARKER).headers()
    shown = json.dumps({"repr": repr(headers), "str": str(headers), "format": f"{headers}"})
    assert MARKER not in shown and "Authorization" in shown
