"""LiveKit's native audio objects after a barge-in: the next write, and closing in a process
that then exits.

A capture cancelled mid-flight (the playout task cancelled by a barge-in) still completes in
LiveKit's native layer; if its source is disposed and the process exits first, the native
layer logs ``[AUDIO_CAPTURE] Failed to send callback`` at ERROR on the way out. Only a
process that exits shows it, so those cases run in a fresh interpreter.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap

import pytest

from turnstile.adapters.local import LocalSpeaker

SPEAKER = """
    import asyncio
    from turnstile.adapters.local import LocalSpeaker

    async def main() -> None:
        speaker = LocalSpeaker(24000, queue_ms=100)
        await speaker.write(bytes(2400 * 2))  # 100 ms: the whole native queue
        # The next write waits for room as it plays (a second of audio); a barge-in 150 ms
        # in cancels it mid-capture and clears the queue, then the call ends.
        writing = asyncio.ensure_future(speaker.write(bytes(24000 * 2)))
        _, waiting = await asyncio.wait([writing], timeout=0.15)
        assert waiting, "the write was no longer in flight: the case tests nothing"
        writing.cancel()
        speaker.clear()
        await speaker.aclose()

    asyncio.run(main())
"""

CALLER = """
    import asyncio
    from turnstile.adapters.local import LocalRoom

    async def main() -> None:
        room = LocalRoom(caller_sample_rate=24000)
        speaking = asyncio.ensure_future(room.caller.say(bytes(24000 * 2)))  # a second of speech
        _, waiting = await asyncio.wait([speaking], timeout=0.15)
        assert waiting
        speaking.cancel()  # the test (or the user) stops talking mid-frame
        await room.aclose()

    asyncio.run(main())
"""

AGENT = """
    import asyncio
    from turnstile.adapters.local import LocalRoom
    from turnstile.adapters.scripted import ScriptedRealtime, pcm_tone
    from turnstile.machine import InputSpeechStarted, RealtimeAgent

    async def main() -> None:
        provider, room = ScriptedRealtime(), LocalRoom()
        agent = RealtimeAgent(provider)
        await agent.start(room)
        await agent.wait_for_state("listening")
        s = provider.last_session
        s.start_audio_response(pcm_tone(2000), done=False)
        await agent.wait_for_state("speaking")
        s.emit(InputSpeechStarted())
        await agent.wait_for_state("listening")
        await agent.aclose()
        await room.aclose()

    asyncio.run(main())
"""


@pytest.mark.parametrize("script", [SPEAKER, CALLER, AGENT], ids=["speaker", "caller", "agent"])
def test_no_native_error_at_exit_after_a_cancelled_capture(script: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "Failed to send callback" not in done.stderr
    assert "ERROR" not in done.stderr, done.stderr


async def test_the_first_write_after_a_barge_in_is_taken() -> None:
    # The cancelled write's capture is still pending in the native source, which takes one
    # capture at a time: the next reply's first write used to fail with "InvalidState -
    # failed to capture frame". It waits for that capture (over at once after the clear).
    speaker = LocalSpeaker(24000, queue_ms=100)
    try:
        await speaker.write(bytes(2400 * 2))
        writing = asyncio.ensure_future(speaker.write(bytes(24000 * 2)))
        _, waiting = await asyncio.wait([writing], timeout=0.15)
        assert waiting, "the write was no longer in flight: the case tests nothing"
        writing.cancel()
        speaker.clear()
        heard = speaker.heard_samples
        await asyncio.wait_for(speaker.write(b"\x10\x00" * 2400), 5)  # the next reply: 100 ms
        await asyncio.wait_for(speaker.wait_for_playout(), 5)
        assert speaker.heard_samples - heard >= 2400 and speaker.queued_samples == 0
    finally:
        await speaker.aclose()
