"""`troupe serve` after a restart: a run cut by the old server's stop is listed as stopped and resumed with
`POST /api/runs/ID/resume`; the endpoint sees only the calls the tape did not hold, and the run keeps its
id and transcript. What cannot be resumed is a 409 that says why."""

from __future__ import annotations

from pathlib import Path

import httpx2
from fake_openai import FakeOpenAI, Reply
from helpers import BUDGET_REPLIES, BUDGET_SCENARIO, write
from served import Served

from autogen_troupe.tapes import read_tape
from autogen_troupe.tapes._tape import Resumed


def test_a_run_cut_by_a_restart_is_resumed_from_the_api(srv: FakeOpenAI, tmp_path: Path) -> None:
    path = write(tmp_path, BUDGET_SCENARIO, "budget.yaml")
    out = tmp_path / "runs"
    srv.script([*BUDGET_REPLIES[:2], Reply(text="never sent", delay_s=60)])
    with (
        Served([path], base_url=srv.base_url, out_dir=out) as first,
        httpx2.Client(base_url=first.url) as api,
    ):
        started = api.post("/api/runs", json={"scenario": "budget"})
        assert started.status_code == 201
        run_id = started.json()["id"]
        first.wait_until(lambda: len(srv.chat_requests) >= 3)
    # the server stopped with the run's third call in flight
    srv.reset()
    srv.script(BUDGET_REPLIES[2:])
    with (
        Served([path], base_url=srv.base_url, out_dir=out) as again,
        httpx2.Client(base_url=again.url) as api,
    ):
        (past,) = api.get("/api/runs").json()["runs"]
        assert past["status"] == "stopped" and past["run_id"] == run_id
        resumed = api.post(f"/api/runs/{past['id']}/resume")
        assert resumed.status_code == 201, resumed.text
        assert resumed.json()["id"] == run_id
        again.wait_until(lambda: api.get(f"/api/runs/{run_id}").json()["status"] != "running")
        assert api.get(f"/api/runs/{run_id}").json()["status"] == "done"
        assert len(srv.chat_requests) == 3  # the cut call and the two after it
        finished = api.post(f"/api/runs/{past['id']}/resume")
        assert finished.status_code == 409 and "already finished" in finished.json()["error"]["message"]
        for bad in ("nothing-here", "..%2Fbudget"):
            refused = api.post(f"/api/runs/{bad}/resume")
            assert refused.status_code in (404, 409) and "Traceback" not in refused.text
    (transcript,) = out.glob("budget-*.jsonl")
    tape = read_tape(transcript)
    assert len(tape.of(Resumed)) == 1
    result = tape.run_result()
    assert result is not None and result.final_message == "Fine. TERMINATE"
    assert [m.source for m in result.messages] == ["user", "writer", "critic", "writer", "critic"]
