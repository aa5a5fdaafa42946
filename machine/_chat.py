"""The conversation as the agent knows it: what each side said, as it was heard."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ChatContext", "ChatMessage", "Role"]

Role = Literal["system", "user", "assistant", "tool"]


class ChatMessage(BaseModel):
    model_config = ConfigDict(defer_build=True)  # built on first use: see _events._Event

    role: Role
    text: str = ""
    id: str | None = None
    interrupted: bool = False
    tool_call_id: str | None = None
    name: str | None = None


class ChatContext(BaseModel):
    """An ordered list of messages; ``copy()`` before handing it to other code."""

    model_config = ConfigDict(defer_build=True)

    messages: list[ChatMessage] = Field(default_factory=list)

    def append(
        self, *, role: Role, text: str, id: str | None = None, interrupted: bool = False
    ) -> ChatMessage:
        msg = ChatMessage(role=role, text=text, id=id, interrupted=interrupted)
        self.messages.append(msg)
        return msg

    def upsert(self, msg: ChatMessage) -> None:
        """Replace the message with the same id (a transcript arriving late), else append."""
        if msg.id is not None:
            for i, old in enumerate(self.messages):
                if old.id == msg.id:
                    self.messages[i] = msg
                    return
        self.messages.append(msg)

    def remove(self, id: str) -> None:
        self.messages = [m for m in self.messages if m.id != id]

    def copy(self) -> ChatContext:  # type: ignore[override]
        return ChatContext(messages=[m.model_copy() for m in self.messages])
