"""The shape of a conversation: who speaks when.

A chat template, and a trainer that learns from assistant turns only, assume
a conversation that opens with an optional system turn, then alternates user
and assistant, and ends on an assistant turn. Records that break this train
on the wrong tokens or fail in the template.
"""

from __future__ import annotations

from ..record import Record
from ..registry import register
from ..step import KEEP, Drop, Filter, Verdict


@register("filter.conversation")
class Conversation(Filter):
    """Drop chat records whose turns are out of order.

    Reasons, checked in this order: ``no_assistant_turn`` (chat records only);
    ``bad_first_role`` (the first turn is not system or user); ``system_not_first``
    (a system turn after the first turn); ``consecutive_same_role`` (two user or two
    assistant turns in a row, unless ``allow_consecutive``; tool turns may follow
    each other); ``does_not_end_with_assistant`` (when ``require_final_assistant``).
    A preference record's messages are its prompt, so they need no assistant
    turn and should end on the user. Plain-text and labelled records pass.
    """

    reasons = ("no_assistant_turn", "bad_first_role", "system_not_first", "consecutive_same_role", "does_not_end_with_assistant")

    def __init__(self, allow_consecutive: bool = False, require_final_assistant: bool = True):
        self.allow_consecutive = allow_consecutive
        self.require_final_assistant = require_final_assistant

    def keep(self, rec: Record) -> Verdict:
        messages = rec.messages
        if not messages:
            return KEEP
        roles = [m["role"] for m in messages]
        is_chat = rec.kind == "chat"
        if is_chat and "assistant" not in roles:
            return Drop("no_assistant_turn", value=",".join(roles), detail=f"roles: {_roles(roles)}")
        if roles[0] not in ("system", "user"):
            return Drop("bad_first_role", value=roles[0], detail=f"messages[0] is {roles[0]!r}; roles: {_roles(roles)}")
        for i, role in enumerate(roles[1:], start=1):
            if role == "system":
                return Drop("system_not_first", value=i, detail=f"messages[{i}] is a system turn; roles: {_roles(roles)}")
        if not self.allow_consecutive:
            for i in range(1, len(roles)):
                if roles[i] == roles[i - 1] and roles[i] in ("user", "assistant"):
                    return Drop(
                        "consecutive_same_role",
                        value=roles[i],
                        detail=f"messages[{i - 1}] and messages[{i}] are both {roles[i]!r}; roles: {_roles(roles)}",
                    )
        if is_chat and self.require_final_assistant and roles[-1] != "assistant":
            return Drop("does_not_end_with_assistant", value=roles[-1], detail=f"the last turn is {roles[-1]!r}; roles: {_roles(roles)}")
        return KEEP


def _roles(roles: list[str], limit: int = 12) -> str:
    shown = ",".join(roles[:limit])
    return shown + (f",... ({len(roles)} turns)" if len(roles) > limit else "")
