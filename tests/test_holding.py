"""Hold, then decide: a cough or a backchannel over the agent pauses it and it plays on; a
real barge-in (long enough, or real words) cuts it at the position heard before the pause."""

from __future__ import annotations

from typing import Any

from turnstile.adapters.local import LocalRoom
from turnstile.adapters.scripted import ScriptedRealtime, ScriptedSession, pcm_tone
from turnstile.machine import (
    AgentOptions,
    Capabilities,
    InputAudioCommitted,
    InputSpeechStarted,
    InputSpeechStopped,
    InputTranscriptionCompleted,
    RealtimeAgent,
    is_backchannel,
)

from ._util import wait_until

HOLDS = Capabilities(holds_playout=True, replies_to_turns=False)


async def _speaking(
    caps: Capabilities = HOLDS, **options: Any
) -> tuple[RealtimeAgent, ScriptedSession, LocalRoom, str, str]:
    options = {"min_interruption_s": 5.0, "false_interruption_timeout_s": 5.0, **options}
    provider, room = ScriptedRealtime(caps), LocalRoom()
    agent = RealtimeAgent(provider, options=AgentOptions(**options))
    await agent.start(room)
    await agent.wait_for_state("listening")
    s = provider.last_session
    agent.generate_reply()
    rid, iid = s.start_audio_response(pcm_tone(800), transcript="a whole answer", done=False)
    assert agent.state == "speaking"
    await wait_until(lambda: room.speaker.heard_samples > 2400)  # some of it was heard
    return agent, s, room, rid, iid


async def test_a_cough_holds_the_agent_and_it_plays_on_with_nothing_lost() -> None:
    agent, s, room, rid, iid = await _speaking(false_interruption_timeout_s=0.2)
    spoken: list[str] = []
    agent.on("agent_speech_committed", spoken.append)
    s.emit(InputSpeechStarted())
    assert agent.state == "holding"
    player = agent._runtime.player
    assert player is not None and player.paused and room.speaker.queued_samples == 0
    paused_at = player.heard_samples(player.current)  # type: ignore[arg-type]
    s.emit(InputSpeechStopped())  # a cough: short, and no words follow
    await agent.wait_for_state("speaking", timeout=3)  # false_interruption
    s.finish_response(rid, iid, transcript="a whole answer")
    await agent.wait_for_state("listening", timeout=5)
    assert spoken == ["a whole answer"]  # never cut, nothing cancelled or truncated
    assert not {"cancel_response", "truncate", "delete_item"} & set(s.names())
    assert paused_at > 0 and room.speaker.heard_samples >= 24000 * 800 // 1000
    agent.trace.assert_path("initializing", "listening", "thinking", "speaking", "holding",
                            "speaking", "listening")  # fmt: skip
    assert ("false_interruption", "holding", "speaking") in agent.trace.transitions
    await agent.aclose()


async def test_speech_that_lasts_is_a_barge_in_cut_where_the_pause_began() -> None:
    agent, s, _room, _rid, iid = await _speaking(min_interruption_s=0.15)
    s.emit(InputSpeechStarted())
    assert agent.state == "holding"
    player = agent._runtime.player
    assert player is not None
    paused_at = player.heard_samples(player.current)  # type: ignore[arg-type]
    await agent.wait_for_state("listening", timeout=3)  # interruption_confirmed, still talking
    assert ("interruption_confirmed", "holding", "interrupted") in agent.trace.transitions
    truncate = s.last("truncate")
    assert truncate.args["item_id"] == iid
    # The heard position excludes the paused time.
    assert truncate.args["audio_end_ms"] == paused_at * 1000 // 24000
    assert s.names().index("cancel_response") < s.names().index("truncate")
    await agent.aclose()


# Server VAD as OpenAI reports it: starts 300 ms early (padding), stops 500 ms late (silence).
VAD = Capabilities(holds_playout=True, replies_to_turns=False, speech_padding_ms=300, speech_stop_delay_ms=500)


async def test_the_vad_silence_is_waited_out_and_a_short_speech_plays_on() -> None:
    agent, s, _room, _rid, _iid = await _speaking(VAD, min_interruption_s=0.5, false_interruption_timeout_s=0.2)
    # The confirming deadline waits the VAD's silence out: 0.5 s of speech plus 0.5 s of silence.
    assert agent._runtime.confirm_deadline.seconds == 1.0
    s.emit(InputSpeechStarted(audio_start_ms=1000))
    # 1000 + 300 padding .. 1500 + 500 silence: 200 ms of speech, an mm-hmm.
    s.emit(InputSpeechStopped(audio_end_ms=2000))
    assert agent.state == "holding"
    await agent.wait_for_state("speaking", timeout=3)  # false_interruption
    assert ("false_interruption", "holding", "speaking") in agent.trace.transitions
    assert "truncate" not in s.names()
    await agent.aclose()


async def test_a_speech_the_vad_measured_long_enough_is_a_barge_in_at_its_stop() -> None:
    agent, s, _room, _rid, iid = await _speaking(VAD, min_interruption_s=0.5)
    s.emit(InputSpeechStarted(audio_start_ms=1000))
    s.emit(InputSpeechStopped(audio_end_ms=2300))  # 1300 - 300 - 500 = 500 ms of speech
    assert ("user_speech_stopped", "holding", "interrupted") in agent.trace.transitions
    assert s.last("truncate").args["item_id"] == iid
    await agent.aclose()


async def test_a_backchannel_plays_on_and_leaves_no_turn_behind() -> None:
    agent, s, _room, _rid, _iid = await _speaking()
    s.emit(InputSpeechStarted(), InputSpeechStopped(), InputAudioCommitted(item_id="u1"))
    assert agent.state == "holding"
    s.emit(InputTranscriptionCompleted(item_id="u1", transcript="Mm-hmm."))
    assert agent.state == "speaking"  # at once: the words say it was an acknowledgement
    assert s.last("delete_item").args["item_id"] == "u1"  # the model's memory untouched
    assert all(m.id != "u1" for m in agent.chat_ctx.messages)
    assert s.names().count("create_response") == 1  # only the first reply was asked
    await agent.aclose()


async def test_real_words_confirm_a_held_barge_in_and_the_held_turn_is_answered() -> None:
    agent, s, _room, _rid, _iid = await _speaking()
    s.emit(InputSpeechStarted(), InputSpeechStopped(), InputAudioCommitted(item_id="u2"))
    s.emit(InputTranscriptionCompleted(item_id="u2", transcript="wait, what about Tuesday"))
    assert ("user_transcript", "holding", "interrupted") in agent.trace.transitions
    assert "truncate" in s.names()
    assert s.names().count("create_response") == 2  # the agent asks for the answer
    assert agent.state == "thinking"
    assert any(m.id == "u2" for m in agent.chat_ctx.messages)
    await agent.aclose()


async def test_without_holding_a_barge_in_cuts_at_once() -> None:
    for caps, opts in ((Capabilities(), {}), (HOLDS, {"resume_false_interruption": False})):
        agent, s, _room, _, _ = await _speaking(caps, **opts)
        s.emit(InputSpeechStarted())
        assert agent.state == "listening" and "truncate" in s.names()
        await agent.aclose()


async def test_a_committed_turn_is_answered_by_the_agent_where_the_server_does_not() -> None:
    provider, room = ScriptedRealtime(HOLDS), LocalRoom()
    agent = RealtimeAgent(provider)
    await agent.start(room)
    await agent.wait_for_state("listening")
    s = provider.last_session
    s.emit(InputSpeechStarted(), InputSpeechStopped(), InputAudioCommitted(item_id="u3"))
    assert agent.state == "thinking" and s.names().count("create_response") == 1
    await agent.aclose()


def test_backchannels_are_short_acknowledgements() -> None:
    for text in ("mm-hmm", "Yeah.", "right", "OK", "uh huh", "yeah, right", "Got it."):
        assert is_backchannel(text), text
    for text in ("", "wait", "yeah but what about Tuesday", "stop", "no"):
        assert not is_backchannel(text), text


async def test_held_speech_again_restarts_the_wait() -> None:
    agent, s, _room, _, _ = await _speaking(min_interruption_s=0.3, false_interruption_timeout_s=0.3)
    s.emit(InputSpeechStarted(), InputSpeechStopped())
    s.emit(InputSpeechStarted())  # talking again: it must last 0.3 s from now
    await agent.wait_for_state("listening", timeout=3)
    assert agent.trace.events.count("interruption_confirmed") == 1
    await agent.aclose()
