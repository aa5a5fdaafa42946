"""``turnstile inspect``: prints the page's URL, serves until Ctrl-C, fails in one line."""

from __future__ import annotations

import asyncio
import signal
import socket
from pathlib import Path

from aiohttp import ClientSession

from .._cli_run import TURNSTILE, run_cli, stderr_lines


async def test_inspect_prints_the_url_serves_the_page_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        str(TURNSTILE), "inspect", "--port", "0", cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    try:
        async with asyncio.timeout(20):
            first = (await proc.stdout.readline()).decode()
            second = (await proc.stdout.readline()).decode()
        assert first.startswith("Turnstile inspector: open http://127.0.0.1:"), first
        url = first.split("open ", 1)[1].strip()
        assert "TURNSTILE_INSPECT=ws://127.0.0.1:" in second
        async with ClientSession() as http, http.get(url) as response:
            assert response.status == 200 and "Turnstile inspector" in await response.text()
        proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(10):
            code = await proc.wait()
        assert code == 0
        assert await proc.stderr.read() == b""
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("inspect", "--port", str(port), cwd=tmp_path, timeout=30)
    assert result.returncode == 1
    assert stderr_lines(result) == [f"turnstile inspect: cannot listen on 127.0.0.1:{port}: Address already in use"]


def test_a_bad_port_is_one_line(tmp_path: Path) -> None:
    result = run_cli("inspect", "--port", "99999", cwd=tmp_path, timeout=30)
    assert result.returncode == 2 and len(stderr_lines(result)) == 1
    assert "99999 is not a port" in result.stderr
