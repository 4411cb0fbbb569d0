"""`troupe eval --simulate-user PROFILE [--persona TEXT]`: a model plays the person of a scenario's user
agent (`kind: user`), so an eval of a team with a person in it runs unattended.

It answers through the person's own path (`RunOptions.ask_human`, the one the terminal and the serve
page use), so its answers are recorded on the run's tape like a person's (`user_answer`) and replay as
them. It hears the conversation as the run goes (the run's events) and is asked, on each of the user
agent's turns, for the person's next message: in the persona given (the task row's `persona`, else
`--persona`), ending with the agent's default answer (TERMINATE) when the person has nothing to add.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEFAULT_PERSONA", "SimulatedUser"]

DEFAULT_PERSONA = "A person who asked the team for this and wants it done well, briefly and politely."
_SYSTEM = (
    "You play a person talking with a team of AI assistants, to test them. Stay in character; never say "
    "you are an AI. Who you are: {persona}\n\nWhat you asked the team: {task}\n\n"
    "Reply with the person's next message only, in a sentence or two. When the team has done what you "
    "asked, or you have nothing more to say, reply with exactly: {done}"
)
_MAX_HISTORY_CHARS = 20_000  # of the conversation shown to the simulated person, the latest kept


class SimulatedUser:
    """One run's simulated person: `hear` gets the run's events, calling it answers a user agent's turn."""

    def __init__(self, client: Any, *, persona: str | None, task: str) -> None:
        self.client = client
        self.persona = persona or DEFAULT_PERSONA
        self.task = task
        self.heard: list[tuple[str, str]] = []  # (speaker, text) of each chat message so far
        self.prompt_tokens = 0
        self.completion_tokens = 0

    def hear(self, event: Any) -> None:
        """The run's event hook: keeps each whole chat message (not stream chunks, tool calls or results)."""
        if getattr(event, "kind", None) in ("text", "handoff") and isinstance(
            getattr(event, "content", None), str
        ):
            self.heard.append((str(event.source), event.content))

    def _messages(self, me: str, done: str) -> list[Any]:
        from autogen_core.models import AssistantMessage, SystemMessage, UserMessage

        system = _SYSTEM.format(persona=self.persona, task=self.task, done=done)
        out: list[Any] = []
        size = 0
        for speaker, text in reversed(self.heard[1:]):  # the task itself is in the system message
            size += len(text)
            if size > _MAX_HISTORY_CHARS:
                break
            if speaker == me:
                out.append(AssistantMessage(content=text, source=me))
            else:
                out.append(UserMessage(content=f"[{speaker}] {text}", source=speaker))
        out.reverse()
        if not out or isinstance(out[-1], AssistantMessage):
            out.append(UserMessage(content="(The team waits for your reply.)", source="team"))
        return [SystemMessage(content=system), *out]

    async def __call__(self, question: Any) -> str | None:
        """The person's answer to a user agent's turn (`runtime._human.AskHuman`); None (the agent's
        default answer) when the model fails or says nothing."""
        try:
            result = await self.client.create(self._messages(question.agent, question.default_answer))
        except Exception:  # the model's failure: the person "says nothing" (the default), the run goes on
            return None
        if result.usage is not None:
            self.prompt_tokens += result.usage.prompt_tokens
            self.completion_tokens += result.usage.completion_tokens
        text = result.content if isinstance(result.content, str) else ""
        return text.strip() or None
