"""The page at `/`, driven in real Chromium (Debian's `chromium`, through Playwright from PyPI) against the
real server and the fake endpoint: start a run and watch its messages arrive, answer a user agent, stop
a run, open a past one, give the token, read it at phone width. A screenshot of a finished run is kept
in `test-artifacts/` (or `$TROUPE_TEST_ARTIFACTS`).

Without Chromium these tests skip, saying how to install it; in CI (`CI` set) a missing browser fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fake_openai import FakeOpenAI, Reply, by_system
from helpers import (
    APPROVAL_REPLIES,
    BUDGET_REPLIES,
    BUDGET_SCENARIO,
    approval_scenario,
    booking_scenario,
    write,
)
from served import Served

from autogen_troupe.tapes import read_tape
from autogen_troupe.tapes._tape import Resumed

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
TIMEOUT_MS = 30_000  # bounds a hang; nothing waits this long when things work
ARTIFACTS = Path(os.environ.get("TROUPE_TEST_ARTIFACTS") or ROOT / "test-artifacts")

TRAVEL = {
    "suggest a travel plan": [
        "Day 1: Kathmandu — Durbar Square and Swayambhunath.\nDay 2: Patan and Bhaktapur.\n"
        "Day 3: sunrise over the Himalayas at Nagarkot."
    ],
    "authentic and interesting local": ["Try momos in Thamel and a cooking class in Patan."],
    "language or communication": ["Learn 'Namaste' (hello) and 'Dhanyabaad' (thank you)."],
    "detailed final travel plan": [
        "Final plan: Kathmandu, Patan, Bhaktapur, Nagarkot; momos; Namaste. TERMINATE"
    ],
}


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} in CI: .ci/run installs Debian's chromium and the [dev] extra (playwright)")
    pytest.skip(f"{what}: `apt-get install -y chromium` and `pip install -e '.[dev]'` to run the page tests")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        _missing(f"Debian's chromium is not installed ({CHROMIUM})")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def served(srv: FakeOpenAI, tmp_path: Path) -> Iterator[Served]:
    approval = write(tmp_path, approval_scenario(timeout_s=120), "approval.yaml")
    with Served(["travel_planning", approval], base_url=srv.base_url, out_dir=tmp_path / "runs") as s:
        yield s


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield pg
    context.close()
    assert errors == [], errors  # no script error, no refused request (CSP) on the way


def messages(page: Any) -> list[tuple[str, str]]:
    rows = page.locator("#messages li.msg.text")
    return [
        (rows.nth(i).locator(".who").inner_text(), rows.nth(i).locator(".content").inner_text())
        for i in range(rows.count())
    ]


@contextlib.contextmanager
def browser_page(browser: Any, **options: Any) -> Iterator[Any]:
    """A page in a browser context of its own (viewport, is_mobile, color_scheme...), closed after."""
    context = browser.new_context(**options)
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        yield page
    finally:
        context.close()


def open_page(page: Any, served: Served, scenario: str) -> None:
    page.goto(served.url)
    page.wait_for_selector(f"#scenario option[value='{scenario}']", state="attached")
    page.select_option("#scenario", scenario)
    page.wait_for_function(
        "name => document.querySelector('#scenario-source').textContent.includes('name: ' + name)",
        arg=scenario,
    )


def test_a_task_typed_while_the_page_loads_is_not_put_back(served: Served, page: Any) -> None:
    """The page draws its first scenario once the server's health answered; a person who chose a scenario
    and typed a task meanwhile keeps the task (it was put back, and the run started with the file's own)."""
    held: list[Any] = []
    page.route("**/api/health", lambda route: held.append(route))  # its answer waits until released
    with page.expect_request("**/api/health"):
        page.goto(served.url)
    page.select_option("#scenario", "travel_planning")
    page.wait_for_function("() => document.querySelector('#task').value.includes('Nepal')")
    page.fill("#task", "Two quiet days in Pokhara.")
    # the page lists the runs once its scenarios are drawn: by then a late redraw would have happened
    with page.expect_response(lambda r: r.url.endswith("/api/runs")):
        held[0].continue_()
    page.unroute("**/api/health")
    assert page.input_value("#task") == "Two quiet days in Pokhara."
    assert "name: travel_planning" in (page.text_content("#scenario-source") or "")


def test_a_run_started_on_the_page_streams_in_and_is_drawn(
    srv: FakeOpenAI, served: Served, page: Any
) -> None:
    replies = {k: list(v) for k, v in TRAVEL.items()}
    replies["authentic and interesting local"] = [
        Reply(text=TRAVEL["authentic and interesting local"][0], delay_s=1.5)
    ]
    srv.responder = by_system(replies)
    open_page(page, served, "travel_planning")
    assert page.input_value("#task") == "Plan a 3 day trip to Nepal."
    page.fill("#task", "Plan 3 days in Nepal, please.")
    page.click("#start")
    # the planner's message is on the page while the local agent is still thinking: it streamed in
    page.wait_for_selector("#messages li.msg.text:has(.who:text-is('planner_agent'))")
    assert page.inner_text("#run-status") == "running"
    page.wait_for_selector("#run-status.done")
    assert messages(page) == [
        ("user", "Plan 3 days in Nepal, please."),
        *zip(
            ["planner_agent", "local_agent", "language_agent", "travel_summary_agent"],
            [v[0] for v in TRAVEL.values()],
            strict=True,
        ),
    ]
    assert "Text 'TERMINATE' mentioned" in page.inner_text("#run-ending")
    # the pictures: one lane and bar per speaker; a token bar per agent whose numbers add up
    assert page.locator("#timeline rect").count() == 5
    bars = page.locator("#tokens .bar-row")
    assert bars.count() == 4
    total = sum(int(bars.nth(i).locator("span").last.inner_text()) for i in range(4))
    assert page.inner_text("#run-tokens") == f"{total} tokens" and total > 0
    assert page.locator("#runs li .dot.done").count() == 1
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "serve-page.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_tool_calls_and_their_results_are_folded(srv: FakeOpenAI, tmp_path: Path, page: Any) -> None:
    budget = write(
        tmp_path,
        "name: budget\ntask: Budget 3 days.\nteam: {kind: single, agents: [{name: accountant, "
        "tools: ['autogen_troupe.tools.examples:trip_budget'], reflect_on_tool_use: true}]}\n",
        "budget.yaml",
    )
    srv.script(
        [Reply(tool_calls=[("trip_budget", {"days": 3, "daily_usd": 100})]), Reply(text="About $330.")]
    )
    with Served([budget], base_url=srv.base_url, out_dir=tmp_path / "b") as s:
        open_page(page, s, "budget")
        page.click("#start")
        page.wait_for_selector("#run-status.done")
        call, result = page.locator("#messages li.msg.tool details").all()
        assert call.locator("summary").inner_text() == '→ trip_budget({"days": 3, "daily_usd": 100})'
        assert result.locator("summary").inner_text().startswith("← trip_budget: 3 days x 1 traveller(s)")
        assert not call.evaluate("d => d.open") and call.locator("pre").is_hidden()  # folded
        call.locator("summary").click()
        assert '"daily_usd": 100' in call.locator("pre").inner_text()  # unfolded, pretty-printed
        assert messages(page)[-1] == ("accountant", "About $330.")
        assert page.locator("#timeline circle").count() == 2  # the call and its result on the timeline


def test_the_person_answers_in_the_input_box(srv: FakeOpenAI, served: Served, page: Any) -> None:
    srv.responder = by_system(APPROVAL_REPLIES)
    open_page(page, served, "approval")
    page.click("#start")
    for answer in ("Add an evening, please.", "APPROVE"):
        page.wait_for_selector("#answer:not([hidden])")
        assert page.inner_text("#answer-label") == "traveller — your answer"
        assert "with no answer it says “TERMINATE”" in page.inner_text("#answer-countdown")
        assert page.inner_text("#run-status") == "waiting"
        page.fill("#answer-text", answer)
        page.click("#answer button[type=submit]")
        page.wait_for_selector(f"#messages li.msg.text:has(.content:text-is('{answer}'))")
    page.wait_for_selector("#run-status.done")
    assert page.is_hidden("#answer")
    assert messages(page)[-1] == ("summary", "Final: Fushimi Inari, Gion. TERMINATE")
    assert ("traveller", "APPROVE") in messages(page)


def send_a_first_answer(page: Any, served: Served, on_post: Any) -> None:
    """Start the approval team and answer its first question, `on_post` handling the answer's POST."""
    page.route("**/api/runs/*/input", on_post)
    open_page(page, served, "approval")
    page.click("#start")
    page.wait_for_selector("#answer:not([hidden])")
    page.fill("#answer-text", "Add an evening, please.")
    page.click("#answer button[type=submit]")


def test_the_next_question_stays_open_when_it_comes_before_the_answers_reply(
    srv: FakeOpenAI, served: Served, page: Any
) -> None:
    """The team can ask again (on the event stream) before the reply to the first answer's POST reaches
    the page; that reply must not close the new question. The first reply is held until the second
    question is on the page (the only way to make this order certain)."""
    srv.responder = by_system(APPROVAL_REPLIES)
    held: list[tuple[Any, Any]] = []

    def hold_the_first_reply(route: Any) -> None:
        if held:
            route.continue_()
        else:
            held.append((route, route.fetch()))  # the server has the answer; the page not yet its reply

    send_a_first_answer(page, served, hold_the_first_reply)
    page.wait_for_selector("#messages li.msg.text:has(.content:text-is('Add an evening, please.'))")
    page.wait_for_selector("#answer:not([hidden])")
    ((route, reply),) = held
    with page.expect_request_finished(lambda r: "/input" in r.url):
        route.fulfill(response=reply)
    page.evaluate("() => new Promise((settled) => setTimeout(settled, 50))")  # the page reads the reply
    assert page.is_visible("#answer") and page.input_value("#answer-text") == ""
    page.fill("#answer-text", "APPROVE")
    page.click("#answer button[type=submit]")
    page.wait_for_selector("#run-status.done")
    assert ("traveller", "APPROVE") in messages(page)


def test_an_answer_not_taken_opens_again_with_what_was_typed(
    srv: FakeOpenAI, served: Served, browser: Any
) -> None:
    """The answer's POST fails (a proxy's 503, a fault the real server does not make): the question opens
    again with the typed text and the reason, and sending again goes through."""
    srv.responder = by_system(APPROVAL_REPLIES)
    failed: list[str] = []

    def fail_once(route: Any) -> None:
        if failed:
            route.continue_()
        else:
            failed.append(route.request.url)
            route.fulfill(status=503, json={"error": {"message": "the proxy is busy"}})

    # a context of its own: the 503 is logged as a console error, which the `page` fixture refuses
    with browser_page(browser, viewport={"width": 1280, "height": 900}) as page:
        send_a_first_answer(page, served, fail_once)
        page.wait_for_selector("#answer-problem:text-is('the proxy is busy')")
        assert "left; with no answer it says" in page.inner_text("#answer-countdown")
        assert page.is_visible("#answer")
        assert page.input_value("#answer-text") == "Add an evening, please."
        page.click("#answer button[type=submit]")
        page.wait_for_selector("#messages li.msg.text:has(.content:text-is('Add an evening, please.'))")
        assert len(failed) == 1


def test_the_stop_button_stops_a_run(srv: FakeOpenAI, served: Served, page: Any) -> None:
    srv.script([Reply(text="Day 1: Kathmandu.")])
    srv.default = Reply(text="never", delay_s=30)
    open_page(page, served, "travel_planning")
    page.click("#start")
    page.wait_for_selector("#messages li.msg.text:has(.who:text-is('planner_agent'))")
    page.click("#stop")
    page.wait_for_selector("#run-status.stopped")
    assert page.is_hidden("#stop")
    assert "stopped before the team finished" in page.inner_text("#run-ending")


def test_a_past_run_opens_from_the_list(srv: FakeOpenAI, served: Served, page: Any) -> None:
    srv.responder = by_system(TRAVEL)
    open_page(page, served, "travel_planning")
    page.click("#start")
    page.wait_for_selector("#run-status.done")
    first = messages(page)
    assert "#run=" in page.url
    page.reload()  # the address names the run: a reload shows it again
    page.wait_for_selector("#run-status.done")
    assert messages(page) == first
    page.goto(served.url)  # a fresh page: the run is in the list
    page.wait_for_selector("#runs li")
    assert page.is_hidden("#run")
    page.click("#runs li:first-child")
    page.wait_for_selector("#run-status.done")
    assert messages(page) == first


def test_the_page_asks_for_the_token_once(srv: FakeOpenAI, tmp_path: Path, browser: Any) -> None:
    srv.responder = by_system(TRAVEL)
    token = "page-test-token-0123456789abcdef"
    with (
        browser_page(browser) as page,  # a context of its own: the first request's 401 is expected here
        Served(
            ["travel_planning"], base_url=srv.base_url, out_dir=tmp_path / "t", host="0.0.0.0", token=token
        ) as s,
    ):
        page.goto(s.url)
        page.wait_for_selector("#token-dialog[open]")
        page.fill("#token-input", token)
        page.click("#token-form button")
        page.wait_for_selector("#scenario option[value='travel_planning']", state="attached")
        page.click("#start")
        page.wait_for_selector("#run-status.done")
        assert page.locator("#token-dialog[open]").count() == 0  # asked once, for the whole session
        assert len(messages(page)) == 5


def test_the_page_fits_a_phone(srv: FakeOpenAI, served: Served, browser: Any) -> None:
    srv.responder = by_system(TRAVEL)
    with browser_page(browser, viewport={"width": 390, "height": 844}, is_mobile=True) as pg:
        open_page(pg, served, "travel_planning")
        pg.click("#start")
        pg.wait_for_selector("#run-status.done")
        wide = pg.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert wide <= 0  # nothing runs off the side
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "serve-page-phone.png"), full_page=True)


def test_an_mcp_servers_question_is_answered_on_the_page(srv: FakeOpenAI, tmp_path: Path, page: Any) -> None:
    """An MCP server's form comes as editable JSON with its defaults; Send accepts it."""
    path = booking_scenario(tmp_path)
    srv.script([Reply(tool_calls=[("book", {"city": "Rome"})]), Reply(text="Booked.")])
    with Served([path], base_url=srv.base_url, out_dir=tmp_path / "runs") as served:
        open_page(page, served, "booking")
        page.click("#start")
        page.wait_for_selector("#answer:not([hidden])")
        assert page.inner_text("#answer-label") == "MCP server f asks: Who is travelling to Rome?"
        assert json.loads(page.input_value("#answer-text")) == {"name": "", "nights": 2}
        page.fill("#answer-text", '{"name": "Ann", "nights": 3}')
        page.click("#answer button[type=submit]")
        page.wait_for_selector("#run-status.done")
        assert page.is_hidden("#answer")
        assert "booked 3 night(s) in Rome for Ann" in page.inner_text("#messages")


def run_in_address(page: Any) -> str:
    return str(page.evaluate(r"/run=([\w.-]+)/.exec(location.hash)[1]"))


def wait_for_task(page: Any, task: str) -> None:
    page.wait_for_function(
        "t => document.querySelector('#run-task').textContent === t "
        "&& document.querySelector('#run-status.done') !== null",
        arg=task,
    )


def test_the_address_picks_the_run(srv: FakeOpenAI, served: Served, page: Any) -> None:
    """Back, Forward and a pasted link (a new #run=) switch the run shown; no run named, none shown."""
    srv.responder = by_system({k: v * 2 for k, v in TRAVEL.items()})
    open_page(page, served, "travel_planning")
    ids = []
    for task in ("Trip one.", "Trip two."):
        page.fill("#task", task)
        page.click("#start")
        wait_for_task(page, task)
        ids.append(run_in_address(page))
    page.go_back()
    wait_for_task(page, "Trip one.")
    assert run_in_address(page) == ids[0] and messages(page)[0] == ("user", "Trip one.")
    page.go_forward()
    wait_for_task(page, "Trip two.")
    assert messages(page)[0] == ("user", "Trip two.")
    page.evaluate(f"location.hash = 'run={ids[0]}'")  # a link pasted into the open tab
    wait_for_task(page, "Trip one.")
    assert messages(page)[0] == ("user", "Trip one.")
    assert page.locator("#runs li.current").get_attribute("data-id") == ids[0]
    page.evaluate("location.hash = ''")
    page.wait_for_selector("#run", state="hidden")
    assert page.is_visible("#empty") and page.locator("#runs li.current").count() == 0


def test_the_list_and_the_header_count_the_same_tokens(
    srv: FakeOpenAI, served: Served, page: Any, tmp_path: Path
) -> None:
    """Also for a transcript with no result yet (its process died, or it still runs elsewhere): the list
    adds up its entries as the header does."""
    srv.responder = by_system(TRAVEL)
    open_page(page, served, "travel_planning")
    page.click("#start")
    page.wait_for_selector("#run-status.done")
    header = page.inner_text("#run-tokens")
    assert int(header.split()[0]) > 0
    assert f"done · {header} · " in page.inner_text("#runs li.current .task")
    (transcript,) = (tmp_path / "runs").glob("travel_planning-*.jsonl")
    lines = transcript.read_text().splitlines()
    assert json.loads(lines[-1])["record"] == "result"
    first = json.loads(lines[0])
    del first["run_id"]  # not the run the server holds: listed from its file
    cut = tmp_path / "runs" / "travel_planning-cut.jsonl"
    cut.write_text("\n".join([json.dumps(first), *lines[1:-1]]) + "\n")
    page.goto(served.url)
    row = page.locator("#runs li[data-id='travel_planning-cut'] .task")
    row.wait_for()
    listed = row.inner_text()  # what the API says, before the run is opened
    assert listed == f"unfinished · {header} · Plan a 3 day trip to Nepal.", listed
    row.click()
    page.wait_for_selector("#run-status.unfinished")
    assert page.inner_text("#run-tokens") == header


def test_a_waiting_question_is_on_a_phones_screen(srv: FakeOpenAI, served: Served, browser: Any) -> None:
    # the summary ends the run after the first answer: with the shared replies it asks again at once, and
    # the form could be back before the wait below saw it go
    srv.responder = by_system({**APPROVAL_REPLIES, "Sum up.": [APPROVAL_REPLIES["Sum up."][-1]]})
    with browser_page(browser, viewport={"width": 390, "height": 844}, is_mobile=True) as pg:
        open_page(pg, served, "approval")
        pg.click("#start")
        pg.wait_for_selector("#answer:not([hidden])")
        for scroll in ("0", "document.body.scrollHeight"):  # at the top (the form), at the bottom
            pg.evaluate(f"window.scrollTo(0, {scroll})")
            for part in ("#answer-label", "#answer-text", "#answer button[type=submit]"):
                top, bottom, height = pg.evaluate(
                    "s => { const r = document.querySelector(s).getBoundingClientRect();"
                    " return [r.top, r.bottom, innerHeight]; }",
                    part,
                )
                assert top >= 0 and bottom <= height, (scroll, part, top, bottom, height)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pg.evaluate("window.scrollTo(0, 0)")
        pg.screenshot(path=str(ARTIFACTS / "serve-page-phone-question.png"))
        pg.fill("#answer-text", "APPROVE")
        pg.click("#answer button[type=submit]")
        pg.wait_for_selector("#answer", state="hidden")


# Every label's box, each chart's box, read as drawn: (chart index, kind, text, left, top, right, bottom).
BOXES = """() => [...document.querySelectorAll('figure.chart')].filter((fig) => !fig.hidden).map((fig, i) => {
  const box = (el) => { const r = el.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  const labels = [...fig.querySelectorAll('svg text, .bar-row > *')].map((el) => ({
    kind: el.tagName.toLowerCase() === 'text' ? 'svg' : el.className || 'number',
    text: [...el.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent).join(''),
    box: box(el), cut: el.scrollWidth > el.clientWidth + 1,
  }));
  return { chart: box(fig), labels };
})"""


def _check_labels(page: Any, names: list[str]) -> None:
    charts = page.evaluate(BOXES)
    for chart in charts:
        left, top, right, bottom = chart["chart"]
        shown = chart["labels"]
        assert shown, chart
        for label in shown:
            x0, y0, x1, y1 = label["box"]
            assert left <= x0 and x1 <= right and top <= y0 and y1 <= bottom, (label, chart["chart"])
            assert not (label["kind"] == "name" and label["cut"]), label
        for i, a in enumerate(shown):
            for b in shown[i + 1 :]:
                ax0, ay0, ax1, ay1 = a["box"]
                bx0, by0, bx1, by1 = b["box"]
                overlap = min(ax1, bx1) - max(ax0, bx0) > 0.5 and min(ay1, by1) - max(ay0, by0) > 0.5
                assert not overlap, (a, b)
    timeline, tokens = charts
    lanes = [label["text"] for label in timeline["labels"]][: len(names)]
    assert lanes == names  # whole names: none shortened
    assert [label["text"] for label in tokens["labels"] if label["kind"] == "name"] == names[1:]


@pytest.mark.parametrize("width", [1280, 390])
def test_chart_labels_fit_their_charts(srv: FakeOpenAI, served: Served, browser: Any, width: int) -> None:
    """In dark mode, whose screenshots are kept too."""
    srv.responder = by_system(TRAVEL)
    with browser_page(
        browser, viewport={"width": width, "height": 900}, is_mobile=width < 500, color_scheme="dark"
    ) as pg:
        open_page(pg, served, "travel_planning")
        pg.click("#start")
        pg.wait_for_selector("#run-status.done")
        _check_labels(pg, ["user", "planner_agent", "local_agent", "language_agent", "travel_summary_agent"])
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / f"serve-page-dark-{width}.png"), full_page=True)


def test_a_name_too_long_for_the_timeline_is_shortened_whole_in_its_tooltip(
    srv: FakeOpenAI, tmp_path: Path, browser: Any
) -> None:
    name = "the_travel_summary_agent_who_writes_the_final_plan_for_everyone"
    path = write(tmp_path, f"name: long\ntask: Plan.\nteam: {{kind: single, agents: [{{name: {name}}}]}}\n")
    srv.script([Reply(text="Plan done.")])
    with (
        browser_page(browser, viewport={"width": 390, "height": 844}, is_mobile=True) as pg,
        Served([path], base_url=srv.base_url, out_dir=tmp_path / "runs") as s,
    ):
        open_page(pg, s, "long")
        pg.click("#start")
        pg.wait_for_selector("#run-status.done")
        charts = pg.evaluate(BOXES)
        left, _, right, _ = charts[0]["chart"]
        lane = charts[0]["labels"][1]
        assert lane["text"].endswith("…") and name.startswith(lane["text"][:-1])
        assert lane["box"][2] <= right and lane["box"][0] >= left
        assert pg.locator("#timeline text title").first.text_content() == name
        token_names = [label for label in charts[1]["labels"] if label["kind"] == "name"]
        assert [label["text"] for label in token_names] == [name] and not token_names[0]["cut"]


def test_the_page_says_who_it_is_waiting_for(srv: FakeOpenAI, served: Served, page: Any) -> None:
    """A model's status (here: no first token yet) shows under the run's head until its answer comes."""
    replies = {k: list(v) for k, v in TRAVEL.items()}
    replies["suggest a travel plan"] = [Reply(text=TRAVEL["suggest a travel plan"][0], delay_s=2)]
    srv.responder = by_system(replies)
    open_page(page, served, "travel_planning")
    page.click("#start")
    note = page.wait_for_selector("#run-note:not([hidden])")
    assert note.inner_text().startswith("planner_agent: waiting for the first token… ")
    page.wait_for_selector("#messages li.msg.text:has(.who:text-is('planner_agent'))")
    page.wait_for_selector("#run-status.done")
    assert page.is_hidden("#run-note")


def test_an_eval_template_is_offered_as_one_not_as_a_task(
    srv: FakeOpenAI, tmp_path: Path, browser: Any
) -> None:
    srv.responder = lambda body: Reply(text="A plan for Kyoto. TERMINATE")
    with (
        Served(["travel_eval"], base_url=srv.base_url, out_dir=tmp_path / "runs") as s,
        browser_page(browser, viewport={"width": 1280, "height": 900}) as page,
    ):
        open_page(page, s, "travel_eval")
        option = page.locator("#scenario option[value='travel_eval']").text_content()
        assert option.endswith("(eval template)")
        assert page.input_value("#task") == ""  # the template's {{destination}} is not offered as a task
        assert "{{destination}}" in (page.get_attribute("#task", "placeholder") or "")
        assert "troupe eval travel_eval --tasks FILE" in page.text_content("#scenario-description")
        page.fill("#task", "Plan a day in Kyoto.")
        page.click("#start")
        page.wait_for_function("() => document.querySelector('#run-task').textContent.includes('Kyoto')")
        assert page.text_content("#start-error") == ""  # the task given was run, not refused


def test_a_run_cut_by_a_server_restart_is_resumed_from_the_page(
    srv: FakeOpenAI, tmp_path: Path, browser: Any
) -> None:
    path = write(tmp_path, BUDGET_SCENARIO, "budget.yaml")
    out = tmp_path / "runs"
    srv.script([*BUDGET_REPLIES[:2], Reply(text="never sent", delay_s=60)])
    with (
        Served([path], base_url=srv.base_url, out_dir=out) as first,
        httpx2.Client(base_url=first.url) as api,
    ):
        assert api.post("/api/runs", json={"scenario": "budget"}).status_code == 201
        first.wait_until(lambda: len(srv.chat_requests) >= 3)
    # the server stopped with the run's third model call in flight; a new one starts on the same --out
    srv.reset()
    srv.script(BUDGET_REPLIES[2:])
    with (
        Served([path], base_url=srv.base_url, out_dir=out) as again,
        browser_page(browser, viewport={"width": 1280, "height": 900}) as page,
    ):
        page.goto(again.url)
        page.click("#runs li >> nth=0")  # the cut run, listed from its transcript
        page.wait_for_selector("#run-status.stopped")
        page.click("#resume")
        page.wait_for_selector("#run-status.done")
        assert page.is_hidden("#resume")
        assert messages(page)[-1] == ("critic", "Fine. TERMINATE")
    assert len(srv.chat_requests) == 3  # the cut call and the two after it: nothing asked again
    (transcript,) = out.glob("budget-*.jsonl")  # the same run went on in its own transcript
    assert len(read_tape(transcript).of(Resumed)) == 1
