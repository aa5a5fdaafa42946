"""A livekit-agents user's agent module, as the density bench deploys it under the worker.

Each job process of a livekit-agents worker imports the module of the job's entrypoint
(the worker pickles the function by reference): an idle, pre-warmed process already holds
what this module imports. Nothing here runs in the bench (no job is ever assigned).
"""

from __future__ import annotations

from livekit.agents import Agent, AgentSession, JobContext
from livekit.plugins import openai


async def entrypoint(ctx: JobContext) -> None:
    await ctx.connect()
    session: AgentSession[None] = AgentSession()
    agent = Agent(instructions="You are a helpful voice assistant.", llm=openai.realtime.RealtimeModel())
    await session.start(agent=agent, room=ctx.room)
