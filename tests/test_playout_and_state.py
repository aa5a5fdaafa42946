"""Published state, barge-in, truncation and the committed transcript, through the real
runtime, the scripted provider and LocalRoom's real livekit.rtc audio objects."""

from __future__ import annotations

import asyncio
import itertools

from turnstile.adapters.local import LocalRoom
from turnstile.adapters.pytest_plugin import Harness
from turnstile.adapters.scripted import ScriptedRealtime, pcm_tone
from turnstile.machine import (
    AgentOptions,
    Capabilities,
    InputSpeechStarted,
    InputSpeechStopped,
    RealtimeAgent,
    ResponseContentDone,
    ServerInterrupted,
)

from ._util import wait_until

RATE = 24000
FRAME = RATE // 100  # one 10 ms output frame


async def test_published_state_follows_the_chart(turnstile_harness: Harness) -> None:
    h = turnstile_harness
    assert h.room.attributes["lk.agent.state"] == "listening"
    assert h.room.state_history[0] == "initializing"
    rid, iid = h.session.start_audio_response(pcm_tone(200), transcript="Hi.", done=False)
    await h.agent.wait_for_state("speaking")
    h.session.finish_response(rid, iid, transcript="Hi.")
    await h.agent.wait_for_state("listening")
    await wait_until(lambda: h.room.attributes["lk.agent.state"] == "listening")
    h.agent.trace.assert_path("initializing", "listening", "thinking", "speaking", "listening")
    assert h.room.state_history[-2:] == ["speaking", "listening"]


async def test_thinking_is_published_while_a_reply_is_pending(turnstile_harness: Harness) -> None:
    h = turnstile_harness
    h.agent.generate_reply()
    assert h.agent.state == "thinking"
    await wait_until(lambda: h.room.attributes["lk.agent.state"] == "thinking")
    assert h.session.names()[-1] == "create_response"


async def test_interrupted_is_published_as_listening_by_default(
    turnstile_harness: Harness,
) -> None:
    h = turnstile_harness
    seen: list[str] = []
    h.agent.on("state_changed", lambda old, new, event: seen.append(new))
    h.session.start_audio_response(pcm_tone(500), done=False)
    await wait_until(lambda: h.room.attributes.get("lk.agent.state") == "speaking")
    h.session.emit(InputSpeechStarted())
    await wait_until(lambda: h.room.attributes.get("lk.agent.state") == "listening")
    assert seen[-2:] == ["interrupted", "listening"]
    assert "interrupted" not in h.room.state_history


async def test_the_state_map_is_an_option() -> None:
    provider, room = ScriptedRealtime(), LocalRoom()
    state_map = {"initializing": "initializing", "listening": "idle", "thinking": "thinking"}
    agent = RealtimeAgent(provider, options=AgentOptions(state_map=state_map))
    await agent.start(room)
    await agent.wait_for_state("listening")
    await wait_until(lambda: room.attributes.get("lk.agent.state") == "idle")
    provider.last_session.start_audio_response(pcm_tone(100), done=False)
    assert agent.state == "speaking"
    agent.generate_reply(on_duplicate="keep_both")
    await agent._publisher.settled()  # type: ignore[union-attr]
    # "speaking" is unmapped here: it is not published, the last published value stays.
    assert "speaking" not in room.state_history
    await agent.aclose()
    await room.aclose()


async def test_state_updates_are_coalesced_and_never_stale() -> None:
    provider, room = ScriptedRealtime(), LocalRoom(attribute_delay=0.05)
    agent = RealtimeAgent(provider)
    await agent.start(room)
    await agent.wait_for_state("listening")
    s = provider.last_session
    # Many changes while one publication is in flight: only the newest may follow it.
    for _ in range(5):
        agent.generate_reply()                  # listening -> thinking
        s.emit(InputSpeechStarted())            # thinking -> listening (cancel)
        s.emit(InputSpeechStopped())
    agent.generate_reply()
    assert agent.state == "thinking"
    await wait_until(lambda: room.attributes.get("lk.agent.state") == "thinking")
    await agent._publisher.settled()  # type: ignore[union-attr]
    history = room.state_history
    assert len(history) < 12, history    # 12 state changes; most were superseded unsent
    assert history[-1] == "thinking"
    # Sequential sends: every value published was the newest wanted at its send time, so
    # the list alternates and ends on the current state, never on a stale one.
    assert all(a != b for a, b in itertools.pairwise(history)), history
    await agent.aclose()
    assert room.attributes["lk.agent.state"] == "thinking"  # nothing after close
    await room.aclose()


async def test_barge_in_stops_playout_cancels_and_truncates_at_heard_position(
    turnstile_harness: Harness,
) -> None:
    h = turnstile_harness
    words = "one two three four five six seven eight nine ten"
    rid, iid = h.session.start_audio_response(pcm_tone(1000), transcript=words, done=False)
    # All audio has arrived, the response itself is still in flight: cancel must be sent.
    h.session.emit(ResponseContentDone(response_id=rid, item_id=iid, text=words))
    await h.agent.wait_for_state("speaking")
    await wait_until(lambda: h.room.speaker.heard_samples >= RATE * 400 // 1000)
    interrupted: list[str] = []
    h.agent.on("agent_speech_interrupted", interrupted.append)
    h.session.emit(InputSpeechStarted())
    heard_at_barge_in = h.room.speaker.heard_samples
    assert h.agent.state == "listening"
    truncate = h.session.last("truncate")
    assert h.session.names()[-2:] == ["cancel_response", "truncate"]
    assert truncate.args["item_id"] == iid
    # The truncation point is what the listener heard, within one output frame.
    assert truncate.args["audio_end_ms"] == heard_at_barge_in * 1000 // RATE
    assert truncate.args["audio_end_ms"] <= 1000
    # Playout stopped: after the clear, at most one frame already on its way is heard.
    await asyncio.sleep(0.1)  # let anything still in the native pipeline arrive
    assert h.room.speaker.heard_samples - heard_at_barge_in <= FRAME
    # The committed transcript: the heard words, then "...".
    assert interrupted and interrupted[0].endswith("...")
    said = interrupted[0][:-3].split()
    assert said == words.split()[: len(said)]
    assert 3 <= len(said) <= 5  # about 40% of ten words
    msg = h.agent.chat_ctx.messages[-1]
    assert msg.role == "assistant" and msg.interrupted and msg.text == interrupted[0]
    h.agent.trace.assert_visits("speaking", "interrupted", "listening")


async def test_nothing_heard_deletes_the_item_instead_of_truncating_at_zero(
    turnstile_harness: Harness,
) -> None:
    h = turnstile_harness
    _rid, iid = h.session.start_audio_response(pcm_tone(300), done=False)
    assert h.agent.state == "speaking"
    h.session.emit(InputSpeechStarted())  # before the first frame reached the listener
    assert "truncate" not in h.session.names()
    assert h.session.last("delete_item").args == {"item_id": iid}


async def test_late_audio_of_an_interrupted_response_is_not_played(
    turnstile_harness: Harness,
) -> None:
    from turnstile.machine import AudioDelta

    h = turnstile_harness
    rid, iid = h.session.start_audio_response(pcm_tone(200), done=False)
    h.session.emit(InputSpeechStarted())
    written = h.room.speaker.written_samples
    h.session.emit(AudioDelta(response_id=rid, item_id=iid, data=pcm_tone(200)))
    assert h.agent.state == "listening"
    assert h.room.speaker.written_samples == written


async def test_without_truncation_capability_neither_cancel_nor_truncate() -> None:
    provider = ScriptedRealtime(
        Capabilities(supports_truncate=False, input_sample_rate=16000, server_interrupts=True)
    )
    room = LocalRoom()
    agent = RealtimeAgent(provider)
    await agent.start(room)
    await agent.wait_for_state("listening")
    s = provider.last_session
    s.start_audio_response(pcm_tone(500), transcript="hello there friend", done=False)
    await wait_until(lambda: room.speaker.heard_samples > FRAME * 5)
    s.emit(ServerInterrupted())
    assert agent.state == "listening"
    assert not {"cancel_response", "truncate", "delete_item"} & set(s.names())
    agent.generate_reply()
    s.emit(InputSpeechStarted())  # a barge-in while thinking: still no cancel
    assert "cancel_response" not in s.names()
    await agent.aclose()
    await room.aclose()


async def test_interruptions_can_be_disabled() -> None:
    provider, room = ScriptedRealtime(), LocalRoom()
    agent = RealtimeAgent(provider, options=AgentOptions(allow_interruptions=False))
    await agent.start(room)
    await agent.wait_for_state("listening")
    provider.last_session.start_audio_response(pcm_tone(300))
    provider.last_session.emit(InputSpeechStarted())
    assert agent.state == "speaking"
    await agent.wait_for_state("listening")
    agent.trace.assert_never("speaking", "interrupted")
    await agent.aclose()
    await room.aclose()


async def test_playout_done_commits_the_whole_transcript(turnstile_harness: Harness) -> None:
    h = turnstile_harness
    committed: list[str] = []
    stopped: list[bool] = []
    h.agent.on("agent_speech_committed", committed.append)
    h.agent.on("agent_stopped_speaking", lambda: stopped.append(True))
    h.session.start_audio_response(pcm_tone(250), transcript="All done here.")
    await h.agent.wait_for_state("speaking")
    await h.agent.wait_for_state("listening")
    assert committed == ["All done here."]
    assert stopped == [True]
    # Everything written was heard: playout_done means the listener got it all.
    assert h.room.speaker.heard_samples >= RATE * 250 // 1000
    assert h.agent.chat_ctx.messages[-1].text == "All done here."


async def test_a_response_requested_before_a_barge_in_is_cancelled_when_it_begins(
    turnstile_harness: Harness,
) -> None:
    from turnstile.machine import AudioDelta, ResponseCreated

    h = turnstile_harness
    h.agent.generate_reply()
    assert h.agent.state == "thinking"
    h.session.emit(InputSpeechStarted())  # the user talks before the answer begins
    assert h.agent.state == "listening"
    h.session.emit(ResponseCreated(response_id="late"))
    assert h.session.names()[-1] == "cancel_response"
    h.session.emit(AudioDelta(response_id="late", item_id="x", data=pcm_tone(100)))
    assert h.agent.state == "listening"
    assert h.room.speaker.written_samples == 0


def test_heard_text_keeps_whole_words_up_to_the_heard_fraction() -> None:
    from turnstile.machine._transcript import heard_text

    text = "alpha beta gamma delta"
    assert heard_text(text, 0, 100, RATE, audio_complete=True) == ""
    assert heard_text(text, 50, 100, RATE, audio_complete=True) == "alpha beta"
    assert heard_text(text, 45, 100, RATE, audio_complete=True) == "alpha"  # mid "beta"
    assert heard_text(text, 30, 100, RATE, audio_complete=True) == "alpha"
    assert heard_text(text, 100, 100, RATE, audio_complete=True) == text
    # Audio still arriving: the item's length is estimated from its text (15 chars/s),
    # so 0.5 s heard of a 22-character sentence is about a third of it.
    assert heard_text(text, RATE // 2, RATE // 2, RATE, audio_complete=False) == "alpha"
