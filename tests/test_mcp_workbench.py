"""The MCP pool and workbench against real servers: mcp-server-time, a fixture toolbox over stdio and HTTP."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from helpers import free_port
from mcp import Client

from autogen_troupe.errors import ToolCallError
from autogen_troupe.scenario._schema import HttpServer, McpUse, StdioServer
from autogen_troupe.tools import McpServerPool, McpWorkbench, _mcp_session

pytestmark = pytest.mark.asyncio(loop_scope="module")

ROOT = Path(__file__).resolve().parent.parent
TOOLBOX = str(Path(__file__).resolve().parent / "mcp_fixtures" / "toolbox.py")
TIME = StdioServer(command="python", args=("-m", "mcp_server_time", "--local-timezone", "Asia/Seoul"))
BOX = StdioServer(command="python", args=(TOOLBOX,))


def _alive(pid: int) -> bool:
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is optional
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def assert_all_gone(pids: tuple[int, ...]) -> None:
    assert pids, "the pool started no process"
    assert [p for p in pids if _alive(p)] == []


def text(result) -> str:
    return result.to_text()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pool():
    """One pool for the read-only tests: the time server and the toolbox, as a run would share them."""
    p = McpServerPool({"time": TIME, "box": BOX})
    async with p:
        yield p
    assert_all_gone(p.child_pids)


# --------------------------------------------------------------------------- the time server


async def test_time_server_lists_and_calls(pool: McpServerPool) -> None:
    wb = pool.workbench(McpUse(server="time"))
    tools = {t["name"]: t for t in await wb.list_tools()}
    assert {"get_current_time", "convert_time"} <= set(tools)
    assert tools["get_current_time"]["parameters"]["required"] == ["timezone"]

    result = await wb.call_tool("get_current_time", {"timezone": "Asia/Seoul"})
    assert not result.is_error
    assert json.loads(text(result))["datetime"].endswith("+09:00")


async def test_allow_deny_rename(pool: McpServerPool) -> None:
    use = McpUse(server="time", allow=("get_current_time",), rename={"get_current_time": "now"})
    assert pool.tool_names(use) == ["now"]
    wb = pool.workbench(use)
    assert [t["name"] for t in await wb.list_tools()] == ["now"]
    result = await wb.call_tool("now", {"timezone": "Asia/Seoul"})
    assert not result.is_error and result.name == "now"
    assert "+09:00" in text(result)
    for hidden in ("get_current_time", "convert_time"):
        result = await wb.call_tool(hidden, {})
        assert result.is_error and "not available" in text(result) and "now" in text(result)

    denied = McpUse(server="box", deny=("crash", "fail", "sleep", "grow"))
    assert pool.tool_names(denied) == ["echo", "env_keys", "getenv", "pid", "headers"]
    assert (await pool.workbench(denied).call_tool("crash", {})).is_error


async def test_misnamed_tools_in_a_use_are_reported(pool: McpServerPool) -> None:
    use = McpUse(server="time", allow=("get_time",), rename={"convert_time": "get_current_time"})
    problems = pool.problems(use)
    assert any("allow names tool 'get_time'" in p for p in problems)
    with pytest.raises(ToolCallError, match="get_time"):
        pool.workbench(use)
    clash = McpUse(server="time", rename={"convert_time": "get_current_time"})
    assert any("would both be called 'get_current_time'" in p for p in pool.problems(clash))
    with pytest.raises(ToolCallError, match="no MCP server named 'nope'"):
        pool.workbench(McpUse(server="nope"))


async def test_tool_errors_come_back_as_error_results(pool: McpServerPool) -> None:
    wb = pool.workbench(McpUse(server="box"))
    failed = await wb.call_tool("fail", {})
    assert failed.is_error and "this tool always fails" in text(failed)
    bad_tz = await pool.workbench(McpUse(server="time")).call_tool("get_current_time", {"timezone": "Mars/X"})
    assert bad_tz.is_error and "Mars/X" in text(bad_tz)


async def test_call_timeout_is_an_error_result_and_the_server_keeps_working(pool: McpServerPool) -> None:
    wb = pool.workbench(McpUse(server="box", call_timeout_s=0.3))
    result = await wb.call_tool("sleep", {"seconds": 30})
    assert result.is_error and "timed out after 0.3 s" in text(result)
    assert text(await wb.call_tool("echo", {"text": "still here"})) == "still here"


async def test_two_agents_call_one_server_at_once(pool: McpServerPool) -> None:
    a = pool.workbench(McpUse(server="box"))
    b = pool.workbench(McpUse(server="box", rename={"sleep": "nap"}))
    ra, rb = await asyncio.gather(
        a.call_tool("sleep", {"seconds": 0.3}), b.call_tool("nap", {"seconds": 0.2})
    )
    assert (ra.is_error, rb.is_error) == (False, False)
    assert (text(ra), text(rb)) == ("slept 0.3", "slept 0.2")


@pytest.mark.parametrize("protocol", ["2026-07-28", "legacy"])
async def test_tools_added_mid_run_reach_the_workbench(
    protocol: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server announces a changed tool list; the agent's next list_tools shows the new tool.

    Both ways a server can announce it: a `subscriptions/listen` stream, or (before 2026-07-28, forced
    here with the SDK's legacy handshake) a `notifications/tools/list_changed`."""
    if protocol == "legacy":
        monkeypatch.setattr(_mcp_session, "Client", functools.partial(Client, mode="legacy"))
    async with McpServerPool({"box": BOX}) as pool:
        wb = pool.workbench(McpUse(server="box", deny=("crash",)))
        assert "sprout" not in [t["name"] for t in await wb.list_tools()]
        assert text(await wb.call_tool("grow", {"name": "sprout"})) == "added sprout"
        deadline = time.monotonic() + 30  # bounds a lost notification; it comes within milliseconds
        while "sprout" not in [t["name"] for t in await wb.list_tools()]:
            assert time.monotonic() < deadline, "the new tool never showed up"
            await asyncio.sleep(0.02)
        result = await wb.call_tool("sprout", {})
        assert not result.is_error and text(result) == "grown"


async def test_view_lifecycle_leaves_the_shared_server_alone(pool: McpServerPool) -> None:
    async with pool.workbench(McpUse(server="box")) as wb:  # start() and stop() of the view
        await wb.reset()
        state = await wb.save_state()
        await wb.load_state(state)
    again = pool.workbench(McpUse(server="box"))
    assert text(await again.call_tool("echo", {"text": "alive"})) == "alive"
    assert isinstance(again, McpWorkbench)


async def test_assistant_agent_runs_the_tool_through_the_workbench(pool: McpServerPool) -> None:
    from autogen_agentchat.agents import AssistantAgent
    from autogen_agentchat.messages import ToolCallExecutionEvent
    from autogen_core import FunctionCall
    from autogen_core.models import CreateResult, ModelFamily, ModelInfo, RequestUsage
    from autogen_ext.models.replay import ReplayChatCompletionClient

    call = FunctionCall(id="call_1", name="now", arguments=json.dumps({"timezone": "Asia/Seoul"}))
    client = ReplayChatCompletionClient(
        [
            CreateResult(
                finish_reason="function_calls",
                content=[call],
                usage=RequestUsage(prompt_tokens=0, completion_tokens=0),
                cached=False,
            ),
            "It is morning in Seoul.",
        ],
        model_info=ModelInfo(
            vision=False,
            function_calling=True,
            json_output=False,
            family=ModelFamily.UNKNOWN,
            structured_output=False,
        ),
    )
    view = pool.workbench(McpUse(server="time", rename={"get_current_time": "now"}))
    agent = AssistantAgent("a", model_client=client, workbench=view, reflect_on_tool_use=True)
    result = await agent.run(task="What time is it in Seoul?")

    executions = [m for m in result.messages if isinstance(m, ToolCallExecutionEvent)]
    assert len(executions) == 1
    (done,) = executions[0].content
    assert done.name == "now" and not done.is_error
    assert json.loads(done.content)["datetime"].endswith("+09:00")
    assert result.messages[-1].to_text() == "It is morning in Seoul."


# --------------------------------------------------------------------------- the child's environment


async def test_child_sees_only_basics_env_and_pass_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TROUPE_FAKE_SECRET", "s3cret")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-not-for-children")
    empty = str(ROOT / "tests" / "mcp_fixtures")  # no python there: `python` must still be ours
    plain = StdioServer(command="python", args=(TOOLBOX,), env={"GIVEN": "yes", "PATH": empty})
    passing = StdioServer(command="python", args=(TOOLBOX,), pass_env=("TROUPE_FAKE_SECRET",))
    async with McpServerPool({"plain": plain, "passing": passing}) as pool:
        a = pool.workbench(McpUse(server="plain"))
        b = pool.workbench(McpUse(server="passing"))
        keys_a = set(text(await a.call_tool("env_keys", {})).split("\n"))
        keys_b = set(text(await b.call_tool("env_keys", {})).split("\n"))
        assert text(await a.call_tool("getenv", {"name": "GIVEN"})) == "yes"
        assert text(await a.call_tool("getenv", {"name": "PATH"})) == empty
        # The child has the value; what the model reads back has it masked (its name looks secret).
        assert text(await b.call_tool("getenv", {"name": "TROUPE_FAKE_SECRET"})) == "***"
        assert text(await b.call_tool("getenv", {"name": "TROUPE_NO_SUCH_VAR"})) == "<unset>"
    assert_all_gone(pool.child_pids)

    basics = {"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "SYSTEMROOT", "LC_CTYPE"}  # LC_CTYPE: PEP 538
    assert keys_a - basics == {"GIVEN"}
    assert keys_b - basics == {"TROUPE_FAKE_SECRET"}
    assert "OPENAI_API_KEY" not in keys_a | keys_b


# --------------------------------------------------------------------------- failures at start


async def test_server_dying_at_start_raises_with_its_stderr() -> None:
    dying = StdioServer(
        command="python",
        args=("-c", "import sys; print('boom: config file missing', file=sys.stderr); sys.exit(2)"),
    )
    pool = McpServerPool({"box": BOX, "dying": dying})
    with pytest.raises(ToolCallError) as err:
        async with pool:
            pytest.fail("the pool must not start")
    message = str(err.value)
    assert "'dying'" in message and "exited with code 2 during startup" in message
    assert "boom: config file missing" in message
    assert "-c" in message  # the command line is named
    assert_all_gone(pool.child_pids)  # the healthy server was stopped too


async def test_missing_command_raises_clearly() -> None:
    pool = McpServerPool({"ghost": StdioServer(command="troupe-no-such-server", args=("--x",))})
    with pytest.raises(
        ToolCallError, match=r"'ghost'.*command 'troupe-no-such-server' was not found on PATH"
    ):
        await pool.start()
    assert pool.child_pids == ()


async def test_startup_hang_raises_after_the_startup_timeout() -> None:
    hang = StdioServer(
        command="python",
        args=(
            "-c",
            "import sys, time; print('waiting forever', file=sys.stderr, flush=True); time.sleep(60)",
        ),
        startup_timeout_s=0.5,
    )
    pool = McpServerPool({"hang": hang})
    with pytest.raises(ToolCallError) as err:
        await pool.start()
    assert "did not finish starting" in str(err.value) and "within 0.5 s" in str(err.value)
    assert "waiting forever" in str(err.value)
    assert_all_gone(pool.child_pids)


async def test_unreachable_http_server_raises() -> None:
    url = f"http://user:hunter2@127.0.0.1:{free_port()}/mcp?token=abc"
    with pytest.raises(ToolCallError) as err:
        await McpServerPool({"web": HttpServer(url=url, startup_timeout_s=5)}).start()
    assert "could not be reached" in str(err.value)
    assert "hunter2" not in str(err.value) and "abc" not in str(err.value)


# --------------------------------------------------------------------------- failures mid-run


async def test_crash_mid_run_restarts_once_then_reports() -> None:
    async with McpServerPool({"box": BOX}) as pool:
        wb = pool.workbench(McpUse(server="box"))
        first = int(text(await wb.call_tool("pid", {})))
        os.kill(first, signal.SIGKILL)

        restarted = await wb.call_tool("pid", {})  # the next call restarts the server and retries
        assert not restarted.is_error
        second = int(text(restarted))
        assert second != first

        crashed = await wb.call_tool("crash", {"code": 3})  # dies again: no second restart
        assert crashed.is_error
        message = text(crashed)
        assert "exited with code 3" in message and "restarted once" in message
        assert "toolbox: crashing on purpose" in message  # the stderr tail

        later = await wb.call_tool("echo", {"text": "hello?"})
        assert later.is_error and "restarted once" in text(later)
        assert len(pool.child_pids) == 2
    assert_all_gone(pool.child_pids)


async def test_failed_restart_is_reported_and_sticks(tmp_path: Path) -> None:
    once = StdioServer(command="python", args=(TOOLBOX, "--once", str(tmp_path / "started")))
    async with McpServerPool({"once": once}) as pool:
        wb = pool.workbench(McpUse(server="once"))
        os.kill(int(text(await wb.call_tool("pid", {}))), signal.SIGKILL)
        failed = await wb.call_tool("echo", {"text": "hi"})
        assert failed.is_error
        message = text(failed)
        assert "was killed by signal SIGKILL mid-run" in message
        assert "restart failed" in message and "exited with code 4 during startup" in message
        assert "toolbox: refusing a second start" in message
        assert text(await wb.call_tool("echo", {"text": "hi"})) == message  # given up for the run
    assert_all_gone(pool.child_pids)
    after = await wb.call_tool("echo", {"text": "hi"})
    assert after.is_error


async def test_cancelled_run_leaves_no_child() -> None:
    pool = McpServerPool({"box": BOX, "time": TIME})
    started = asyncio.Event()

    async def run() -> None:
        async with pool:
            started.set()
            await asyncio.sleep(3600)

    task = asyncio.create_task(run())
    await started.wait()
    assert len(pool.child_pids) == 2
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert_all_gone(pool.child_pids)


async def test_ctrl_c_leaves_no_child_and_no_output_on_stdout() -> None:
    script = textwrap.dedent(
        f"""
        import asyncio, os, signal
        from autogen_troupe.scenario._schema import StdioServer
        from autogen_troupe.tools import McpServerPool

        # As in a terminal: a test runner started in the background (`cmd &`) hands its children SIGINT
        # ignored, and Python then keeps it ignored.
        signal.signal(signal.SIGINT, signal.default_int_handler)

        async def main():
            async with McpServerPool({{"box": StdioServer(command="python", args=[{TOOLBOX!r}])}}) as pool:
                print(*pool.child_pids, flush=True)
                os.kill(os.getpid(), signal.SIGINT)
                await asyncio.sleep(60)

        asyncio.run(main())
        """
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)  # a hang guard: imports are slow on a busy CPU
    assert proc.returncode != 0 and b"KeyboardInterrupt" in err
    pids = tuple(int(p) for p in out.split())
    assert len(pids) == 1, out  # nothing but our own line reached stdout
    assert_all_gone(pids)


async def test_sigkill_of_our_process_leaves_no_child() -> None:
    """Killed outright (no cleanup runs), we still leave nothing behind: each stdio server reads EOF on its
    stdin, whose only writer was us, and exits by itself."""
    script = textwrap.dedent(
        f"""
        import asyncio
        from autogen_troupe.scenario._schema import StdioServer
        from autogen_troupe.tools import McpServerPool

        async def main():
            servers = {{"box": StdioServer(command="python", args=[{TOOLBOX!r}]),
                        "time": StdioServer(command="python", args=["-m", "mcp_server_time"])}}
            async with McpServerPool(servers) as pool:
                print(*pool.child_pids, flush=True)
                await asyncio.sleep(600)

        asyncio.run(main())
        """
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 120)  # a hang guard, as above
        pids = tuple(int(p) for p in line.split())
        assert len(pids) == 2, line
        assert all(_alive(p) for p in pids)  # running, with the pool open, when we die
    finally:
        proc.kill()
        await proc.wait()
    deadline = time.monotonic() + 60  # bounds a leak; they normally go within a second
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert_all_gone(pids)


# --------------------------------------------------------------------------- streamable HTTP


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    """The toolbox served over streamable HTTP on a free 127.0.0.1 port, in a subprocess."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, TOOLBOX, "--http", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the HTTP toolbox did not come up (exit code {proc.poll()})")
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def test_http_server_lists_and_calls(http_url: str) -> None:
    server = HttpServer(url=http_url, headers={"X-Troupe-Test": "hello"})
    async with McpServerPool({"web": server}) as pool:
        assert pool.child_pids == ()
        wb = pool.workbench(McpUse(server="web", rename={"echo": "say"}))
        assert "say" in [t["name"] for t in await wb.list_tools()]
        assert text(await wb.call_tool("say", {"text": "over http"})) == "over http"
        headers = json.loads(text(await wb.call_tool("headers", {})))
        assert headers["x-troupe-test"] == "hello"
        slow = pool.workbench(McpUse(server="web", call_timeout_s=0.3))
        assert (await slow.call_tool("sleep", {"seconds": 30})).is_error
