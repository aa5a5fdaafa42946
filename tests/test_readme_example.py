"""The README's testing example, verbatim, so it cannot rot."""

from turnstile.adapters.scripted import pcm_tone
from turnstile.machine import InputSpeechStarted


async def test_barge_in(turnstile_harness):
    h = turnstile_harness
    h.session.start_audio_response(pcm_tone(1000), transcript="one two three", done=False)
    await h.agent.wait_for_state("speaking")
    h.session.emit(InputSpeechStarted())
    h.agent.trace.assert_visits("speaking", "interrupted", "listening")
    assert "cancel_response" in h.session.names()
