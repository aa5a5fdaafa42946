"""The loopback server's conversation: ordered items and the events that change them.

Methods return the frames to send rather than sending them, so the rules (where
an item goes, what is echoed, what is refused) are testable without a socket.
Refusals raise ``ClientEventError``; the connection turns them into ``error``
events. GA announces an item with ``conversation.item.added`` then, once final,
``conversation.item.done``; beta with one ``conversation.item.created``.
"""

from __future__ import annotations

from typing import Any

from ._protocol import Dialect
from ._server_codec import ClientEventError, Frame, new_id

__all__ = ["Conversation"]


class Conversation:
    def __init__(self, dialect: Dialect) -> None:
        self.dialect: Dialect = dialect
        self.id = new_id("conv")
        self.items: dict[str, Frame] = {}  # in conversation order

    @property
    def last_id(self) -> str | None:
        return next(reversed(self.items), None)

    def get(self, item_id: str) -> Frame:
        item = self.items.get(item_id)
        if item is None:
            raise ClientEventError(
                f"Item with item_id '{item_id}' not found in the conversation.", code="invalid_value", param="item_id"
            )
        return item

    def add(self, item: Frame, *, done: bool, after: str | None = None, at_root: bool = False) -> list[Frame]:
        """Insert ``item`` (at the end, after ``after``, or first) and announce it."""
        ids = list(self.items)
        prev = None if at_root else after if after is not None else self.last_id
        cut = 0 if prev is None else ids.index(prev) + 1
        self.items[item["id"]] = item
        self.items = {i: self.items[i] for i in [*ids[:cut], item["id"], *ids[cut:]]}
        if self.dialect == "beta":
            return [{"type": "conversation.item.created", "previous_item_id": prev, "item": item}]
        frames = [{"type": "conversation.item.added", "previous_item_id": prev, "item": item}]
        if done:
            frames.append({"type": "conversation.item.done", "previous_item_id": prev, "item": item})
        return frames

    def finish(self, item: Frame) -> list[Frame]:
        """An item that streamed (a response output) is final."""
        if item["id"] not in self.items:
            return []  # deleted while it streamed
        self.items[item["id"]] = item
        if self.dialect == "beta":
            return []  # beta has no "done" for items; response.output_item.done says it
        ids = list(self.items)
        at = ids.index(item["id"])
        return [{"type": "conversation.item.done", "previous_item_id": ids[at - 1] if at else None, "item": item}]

    def delete(self, item_id: str) -> Frame:
        self.get(item_id)
        del self.items[item_id]
        return {"type": "conversation.item.deleted", "item_id": item_id}

    def create(self, event: dict[str, Any]) -> list[Frame]:
        """``conversation.item.create``, given as its JSON wire form."""
        item: Frame = dict(event["item"])
        item.setdefault("id", new_id("item"))
        if item["id"] in self.items:
            raise ClientEventError(
                f"Item with id '{item['id']}' already exists.", code="invalid_value", param="item.id"
            )
        if item.get("type") == "function_call_output" and not any(
            i.get("type") == "function_call" and i.get("call_id") == item.get("call_id") for i in self.items.values()
        ):
            raise ClientEventError(
                f"Tool call ID '{item.get('call_id')}' not found in conversation.", code="invalid_value",
                param="item.call_id",
            )  # fmt: skip
        previous = event.get("previous_item_id")
        if previous not in (None, "root") and previous not in self.items:
            raise ClientEventError(
                f"Previous item with id '{previous}' not found.", code="invalid_value", param="previous_item_id"
            )
        # Echoed as stored: completed, and without audio bytes ("except for audio data").
        stored: Frame = {**item, "object": "realtime.item", "status": "completed"}
        if "content" in item:
            stored["content"] = [{k: v for k, v in part.items() if k != "audio"} for part in item["content"]]
        return self.add(stored, done=True, after=None if previous == "root" else previous, at_root=previous == "root")

    def truncate(self, item_id: str, content_index: int, audio_end_ms: int, *, sent_ms: float) -> Frame:
        item = self.get(item_id)
        content = item.get("content") or []
        if item.get("role") != "assistant" or content_index >= len(content):
            raise ClientEventError(
                "Only assistant messages with audio content can be truncated.", code="invalid_value",
                param="item_id" if item.get("role") != "assistant" else "content_index",
            )  # fmt: skip
        if audio_end_ms > sent_ms:
            raise ClientEventError(
                f"Audio content of {round(sent_ms)}ms is already shorter than {audio_end_ms}ms",
                code="invalid_value", param="audio_end_ms",
            )  # fmt: skip
        # The server drops the transcript: the model must not "remember" words the caller never heard.
        part = {**content[content_index], "transcript": ""}
        item["content"] = [*content[:content_index], part, *content[content_index + 1 :]]
        return {
            "type": "conversation.item.truncated", "item_id": item_id, "content_index": content_index,
            "audio_end_ms": audio_end_ms,
        }  # fmt: skip
