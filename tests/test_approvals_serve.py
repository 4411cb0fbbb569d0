"""Tool approvals (`approve: ask`) through every face of `troupe serve`: an A2A task goes to
`input-required` with the call (tool, arguments, redacted) and the next message's yes or no answers it; an
AG-UI run ends with a `tool_approval` interrupt that `resume` or a new message answers; the page shows the
call as text (a model's `<b>` stays text) with Allow and Deny. An MCP server's question through A2A too.
Real servers on 127.0.0.1, the official clients (a2a-sdk, ag_ui types), real Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from a2a.client import A2ACardResolver
from a2a.helpers import new_data_part
from a2a.types.a2a_pb2 import Message, Part, Role, SendMessageRequest, Task, TaskState
from fake_openai import FakeOpenAI, Reply
from google.protobuf.json_format import MessageToDict
from helpers import booking_scenario
from served import Served
from test_approvals import clerk, made
from test_serve_a2a import ask, client_for, last_task
from test_serve_agui import agui, run_input
from test_serve_hostile import BEARER
from test_serve_page import browser, messages, open_page, page  # noqa: F401  (fixtures)

HOSTILE = f"<b>old</b>.txt {BEARER}"  # markup a page must not read, a credential nobody may see
SHRED = [Reply(tool_calls=[("shred", {"doc": HOSTILE})]), Reply(text="DONE")]
DENIED = "Tool call 'shred' denied by the person; it was not run."


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=60) as client:
        yield client


def tool_results(served: Served, run_id: str) -> list[tuple[str, bool]]:
    entries = httpx2.get(f"{served.url}api/runs/{run_id}").json()["entries"]
    return [
        (r["content"], r["is_error"]) for e in entries if e["kind"] == "tool_result" for r in e["results"]
    ]


def question_of(task: Task) -> dict[str, Any]:
    got: dict[str, Any] = MessageToDict(task.status.message.metadata)["question"]
    return got


async def test_an_a2a_task_asks_for_the_approval_and_yes_or_no_answers_it(
    srv: FakeOpenAI, tmp_path: Path, http: httpx.AsyncClient
) -> None:
    with Served([clerk(tmp_path)], base_url=srv.base_url, out_dir=tmp_path / "runs") as served:
        card = await A2ACardResolver(http, f"{served.url}a2a/clerk").get_agent_card()
        assert "approval: the task waits in input-required for yes or no" in card.description
        client = await client_for(served, "clerk", http)
        srv.script(SHRED)
        task = await last_task(client, ask("Tidy the files."))
        assert task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
        said = task.status.message.parts[0].text
        assert said.startswith("clerk wants to call shred(") and "Allow it? (yes/no)" in said
        assert "<b>old</b>.txt" in said and "tok3n" not in said and "Bearer ***" in said
        q = question_of(task)
        assert q["kind"] == "approval" and q["default_answer"] == "no"
        assert q["approval"] == {
            "server": "files",
            "tool": "shred",
            "arguments": {"doc": "<b>old</b>.txt Authorization: Bearer ***"},
        }
        assert made(tmp_path) == ""  # nothing runs before the yes
        task = await last_task(client, ask("yes", task=task))
        assert task.status.state == TaskState.TASK_STATE_COMPLETED
        assert made(tmp_path) == f"shred {HOSTILE}\n"
        assert tool_results(served, task.id) == [
            (f"{HOSTILE} shredded".replace("tok3n.XYZ_0123456789", "***"), False)
        ]

        srv.reset()
        srv.script(SHRED)
        task = await last_task(client, ask("Tidy the files."))
        assert task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
        task = await last_task(client, ask("no", task=task))
        assert task.status.state == TaskState.TASK_STATE_COMPLETED
        assert made(tmp_path) == f"shred {HOSTILE}\n"  # not made again
        assert tool_results(served, task.id) == [(DENIED, True)]


async def test_an_mcp_servers_question_through_a2a_takes_a_data_part(
    srv: FakeOpenAI, tmp_path: Path, http: httpx.AsyncClient
) -> None:
    booking = booking_scenario(tmp_path)
    with Served([booking], base_url=srv.base_url, out_dir=tmp_path / "runs") as served:
        client = await client_for(served, "booking", http)
        for answer, said in [
            (new_data_part({"name": "Ann", "nights": 3}), "booked 3 night(s) in Rome for Ann"),
            (Part(text="decline"), "not made: the person chose decline"),
        ]:
            srv.reset()
            srv.script([Reply(tool_calls=[("book", {"city": "Rome"})]), Reply(text="Booked.")])
            task = await last_task(client, ask("Book Rome."))
            assert task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
            assert task.status.message.parts[0].text == "Who is travelling to Rome?"
            q = question_of(task)
            assert q["kind"] == "mcp" and set(q["mcp"]["schema"]["properties"]) == {"name", "nights"}
            message = Message(role=Role.ROLE_USER, message_id=f"a-{said[:6]}", parts=[answer])
            message.task_id, message.context_id = task.id, task.context_id
            task = await last_task(client, SendMessageRequest(message=message))
            assert task.status.state == TaskState.TASK_STATE_COMPLETED
            ((result, _),) = tool_results(served, task.id)
            assert said in result


def test_an_agui_run_ends_on_the_approval_and_resume_or_a_message_answers(
    srv: FakeOpenAI, tmp_path: Path
) -> None:
    with Served([clerk(tmp_path)], base_url=srv.base_url, out_dir=tmp_path / "runs") as served:
        url = served.url + "agui/clerk"
        srv.script(SHRED)
        first = agui(url, run_input("Tidy the files.", thread="a", run="r1"))
        assert first[-1].outcome.type == "interrupt"
        (question,) = first[-1].outcome.interrupts
        assert question.reason == "tool_approval" and question.message.startswith(
            "clerk wants to call shred("
        )
        assert "tok3n" not in question.message and question.metadata["kind"] == "approval"
        assert question.metadata["approval"]["tool"] == "shred"
        assert question.metadata["approval"]["arguments"] == {
            "doc": "<b>old</b>.txt Authorization: Bearer ***"
        }
        assert question.response_schema["type"] == "string" and made(tmp_path) == ""
        resume = [{"interruptId": question.id, "status": "resolved", "payload": "yes"}]
        second = agui(url, run_input("Tidy the files.", thread="a", run="r2", resume=resume))
        (result,) = [e for e in second if e.type.value == "TOOL_CALL_RESULT"]
        assert result.content.endswith("shredded") and made(tmp_path) == f"shred {HOSTILE}\n"
        assert second[-1].type.value == "RUN_FINISHED" and second[-1].outcome is None

        srv.reset()
        srv.script(SHRED)
        first = agui(url, run_input("Tidy the files.", thread="b", run="r1"))
        assert first[-1].outcome.interrupts[0].reason == "tool_approval"
        second = agui(url, run_input("no", thread="b", run="r2"))  # a new user message answers
        (result,) = [e for e in second if e.type.value == "TOOL_CALL_RESULT"]
        assert result.content == DENIED and made(tmp_path) == f"shred {HOSTILE}\n"
        assert second[-1].result["final_message"] == "DONE"


@pytest.mark.parametrize(("button", "typed"), [("#answer-allow", None), (None, "no"), ("#answer-deny", None)])
def test_the_page_shows_the_call_as_text_and_allow_or_deny_answers(
    srv: FakeOpenAI,
    tmp_path: Path,
    page: Any,  # noqa: F811 (the fixture)
    button: str | None,
    typed: str | None,
) -> None:
    srv.script(SHRED)
    with Served([clerk(tmp_path)], base_url=srv.base_url, out_dir=tmp_path / "runs") as served:
        open_page(page, served, "clerk")
        page.click("#start")
        page.wait_for_selector("#answer:not([hidden])")
        assert page.inner_text("#answer-label") == "clerk wants to call shred on MCP server files. Allow it?"
        detail = page.inner_text("#answer-detail")
        assert '"doc": "<b>old</b>.txt Authorization: Bearer ***"' in detail  # as text, not bold
        assert page.locator("#answer b, #messages b").count() == 0 and "tok3n" not in page.content()
        assert page.is_visible("#answer-allow") and page.is_visible("#answer-deny")
        if button is not None:
            page.click(button)
        else:
            page.fill("#answer-text", str(typed))
            page.click("#answer button[type=submit]")
        page.wait_for_selector("#run-status.done")
        assert page.is_hidden("#answer")
        shown = page.inner_text("#messages")
        if button == "#answer-allow":
            assert (
                "<b>old</b>.txt" in shown and "shredded" in shown and made(tmp_path) == f"shred {HOSTILE}\n"
            )
            assert "shred: allowed by the person" in shown
        else:
            assert DENIED in shown and made(tmp_path) == ""
            assert "shred: denied by the person" in shown
        assert messages(page)[-1] == ("clerk", "DONE")
