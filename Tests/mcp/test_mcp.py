"""End-to-end tests of `spaces mcp` with the real Python MCP client.

Run by script/test (pytest). Each test gets its own SPACES_HOME.
"""

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

ROOT = Path(__file__).resolve().parents[2]
SPACES = os.environ.get("SPACES_BIN", str(ROOT / ".build" / "debug" / "spaces"))


@pytest.fixture
def home():
    folder = tempfile.mkdtemp(prefix="spaces-mcp-")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def spaces(home, *args, **kwargs):
    env = dict(os.environ, SPACES_HOME=home)
    return subprocess.run([SPACES, *args], env=env, capture_output=True, text=True, timeout=60, **kwargs)


def server(home, space="s"):
    env = dict(os.environ, SPACES_HOME=home)
    return StdioServerParameters(command=SPACES, args=["mcp", "--space", space], env=env)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, timeout=60))


def text(result):
    return "".join(part.text for part in result.content if getattr(part, "type", "") == "text")



@contextlib.asynccontextmanager
async def connected(home):
    """An initialized MCP session with `spaces mcp` on `home`."""
    async with stdio_client(server(home)) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            yield session


def test_lists_the_six_tools_with_schemas(home):
    async def body():
        async with connected(home) as session:
            tools = (await session.list_tools()).tools
            names = sorted(tool.name for tool in tools)
            assert names == sorted(["createFile", "readFile", "editFile", "deleteFile", "shell", "message"])
            shell = next(tool for tool in tools if tool.name == "shell")
            assert shell.input_schema["required"] == ["command"]
            assert "sandbox" in shell.description

    run(body())


def test_calls_every_tool_and_journals_them(home):
    # In the sandbox (the default backend) running a script needs no approval; on the host it asks.
    assert spaces(home, "space", "create", "s").returncode == 0

    async def body():
        async with connected(home) as session:
            created = await session.call_tool("createFile", {"path": "hello.sh", "content": "echo hello $1\n"})
            assert not created.is_error, text(created)
            edited = await session.call_tool(
                "editFile", {"path": "hello.sh", "oldText": "hello", "newText": "hi"})
            assert not edited.is_error, text(edited)
            read_back = await session.call_tool("readFile", {"path": "hello.sh"})
            assert text(read_back) == "echo hi $1\n"
            ran = await session.call_tool("shell", {"command": "sh hello.sh there"})
            assert not ran.is_error, text(ran)
            assert "exit code 0" in text(ran) and "hi there" in text(ran)
            said = await session.call_tool("message", {"text": "all done"})
            assert not said.is_error
            deleted = await session.call_tool("deleteFile", {"path": "hello.sh"})
            assert not deleted.is_error
            missing = await session.call_tool("readFile", {"path": "hello.sh"})
            assert missing.is_error and "notFound" in text(missing)
            outside = await session.call_tool("readFile", {"path": "../../etc/passwd"})
            assert outside.is_error and "pathOutsideWorkspace" in text(outside)
            bad = await session.call_tool("shell", {"cmd": "ls"})
            assert bad.is_error and "unknown field" in text(bad)

    run(body())
    log = spaces(home, "log", "s", "--json")
    events = [json.loads(line) for line in log.stdout.splitlines()]
    kinds = [event["op"]["kind"] for event in events if event["type"] == "received"]
    assert kinds == ["createFile", "editFile", "readFile", "shell", "message", "deleteFile", "readFile", "readFile"]


def test_a_denied_call_is_a_tool_error_with_the_reason(home):
    assert spaces(home, "space", "create", "s", "--policy", "restrictive").returncode == 0

    async def body():
        async with connected(home) as session:
            denied = await session.call_tool("createFile", {"path": "a", "content": "x"})
            assert denied.is_error
            assert "Denied by the space's policy" in text(denied) and "read-only" in text(denied)

    run(body())


def test_a_multi_megabyte_result_passes(home):
    assert spaces(home, "space", "create", "s", "--backend", "host").returncode == 0
    big = "x" * (4 * 1024 * 1024)

    async def body():
        async with connected(home) as session:
            start = time.monotonic()
            created = await session.call_tool("createFile", {"path": "big.txt", "content": big})
            assert not created.is_error, text(created)
            read_back = await session.call_tool("readFile", {"path": "big.txt"})
            assert len(text(read_back)) == len(big)
            assert time.monotonic() - start < 30

    run(body())


def wait_for(predicate, what, deadline=30.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def served(home):
    """A `spaces serve` for the test's SPACES_HOME, stopped afterwards."""
    env = dict(os.environ, SPACES_HOME=home)
    process = subprocess.Popen([SPACES, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    socket_path = Path(home) / "spaces.sock"
    wait_for(lambda: socket_path.exists(), "the server's socket")
    yield home
    process.terminate()
    process.wait(timeout=10)


def pending(home):
    listed = spaces(home, "approvals", "--json")
    assert listed.returncode == 0, listed.stderr
    return json.loads(listed.stdout)


def test_a_call_waiting_for_approval_blocks_until_a_supervisor_decides(served):
    home = served
    assert spaces(home, "space", "create", "s", "--backend", "host").returncode == 0

    async def body():
        async with connected(home) as session:
            # `chmod` asks under the standard policy on the host: the call blocks until a person decides.
            approved = asyncio.create_task(session.call_tool("shell", {"command": "touch a && chmod +x a"}))
            request = await asyncio.to_thread(wait_for, lambda: pending(home), "the first approval request")
            assert not approved.done()
            assert request[0]["op"]["command"] == "touch a && chmod +x a"
            decided = spaces(home, "approve", request[0]["id"], "--once")
            assert decided.returncode == 0, decided.stderr
            result = await approved
            assert not result.is_error, text(result)
            assert "exit code 0" in text(result)

            denied = asyncio.create_task(session.call_tool("shell", {"command": "curl -s http://127.0.0.1:9"}))
            request = await asyncio.to_thread(wait_for, lambda: pending(home), "the second approval request")
            decided = spaces(home, "approve", request[0]["id"], "--deny", "--feedback", "no network, use the fixture")
            assert decided.returncode == 0, decided.stderr
            result = await denied
            assert result.is_error
            assert "Denied by the person supervising: no network, use the fixture" in text(result)

    run(body())
    events = [json.loads(line) for line in spaces(home, "log", "s", "--json").stdout.splitlines()]
    resolved = [event for event in events if event["type"] == "approvalResolved"]
    assert [(event["resolution"], event["decidedBy"]) for event in resolved] == [("once", "person"), ("deny", "person")]


def test_every_tool_takes_a_reason_that_is_journaled_not_parsed_as_the_operation(home):
    assert spaces(home, "space", "create", "s", "--backend", "host").returncode == 0
    reason = "I want to tell the person \x1b[31mwhy\x1b[0m"

    async def body():
        async with connected(home) as session:
            tools = (await session.list_tools()).tools
            for tool in tools:
                field = tool.input_schema["properties"]["reason"]
                assert field["type"] == "string" and field["maxLength"] == 500, tool.name
                assert "Why you need this" in field["description"], tool.name
                assert "reason" not in tool.input_schema["required"], tool.name
            said = await session.call_tool("message", {"text": "hello", "reason": reason})
            assert not said.is_error, text(said)
            plain = await session.call_tool("message", {"text": "no reason", "reason": None})
            assert not plain.is_error, text(plain)
            long = await session.call_tool("message", {"text": "x", "reason": "y" * 501})
            assert long.is_error and '"reason" is 501 characters long' in text(long)
            typed = await session.call_tool("message", {"text": "x", "reason": 7})
            assert typed.is_error and '"reason" must be a string' in text(typed)

    run(body())
    events = [json.loads(line) for line in spaces(home, "log", "s", "--json").stdout.splitlines()]
    received = [event for event in events if event["type"] == "received"]
    assert [event["op"]["text"] for event in received] == ["hello", "no reason"]
    assert received[0]["reason"] == reason and "reason" not in received[0]["op"]
    assert "reason" not in received[1]
    readable = spaces(home, "log", "s").stdout
    assert 'agent says: "I want to tell the person ^[[31mwhy^[[0m"' in readable
    assert "\x1b" not in readable


def test_a_reason_reaches_the_supervisor_and_the_deadline_can_be_extended(served):
    home = served
    assert spaces(home, "space", "create", "s", "--backend", "host").returncode == 0

    async def body():
        async with connected(home) as session:
            call = asyncio.create_task(session.call_tool(
                "shell", {"command": "touch b && chmod +x b", "reason": "the build script must be executable"}))
            request = await asyncio.to_thread(wait_for, lambda: pending(home), "the approval request")
            assert request[0]["reason"] == "the build script must be executable"
            assert "reason" not in request[0]["op"]
            listed = spaces(home, "approvals")
            assert 'agent says: "the build script must be executable"' in listed.stdout, listed.stdout
            extended = spaces(home, "approve", request[0]["id"], "--extend", "--seconds", "90")
            assert extended.returncode == 0, extended.stderr
            assert "90 s more (90 s in all)" in extended.stdout
            after = pending(home)[0]
            assert after["deadline"] > request[0]["deadline"]
            wrong = spaces(home, "approve", request[0]["id"], "--extend", "--seconds", "0")
            assert wrong.returncode != 0 and "from 1 to 3600" in wrong.stderr
            both = spaces(home, "approve", request[0]["id"], "--extend", "--once")
            assert both.returncode != 0 and "leave out --once" in both.stderr
            assert not call.done()
            decided = spaces(home, "approve", request[0]["id"], "--once")
            assert decided.returncode == 0, decided.stderr
            result = await call
            assert not result.is_error, text(result)

    run(body())
    events = [json.loads(line) for line in spaces(home, "log", "s", "--json").stdout.splitlines()]
    extended = [event for event in events if event["type"] == "approvalExtended"]
    assert [(event["actor"], event["seconds"]) for event in extended] == [("person", 90)]
    assert [event["reason"] for event in events if event["type"] == "received"] == [
        "the build script must be executable"]


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("through", ["server", "embedded"])
def test_a_cancelled_call_stops_its_command(home, request, through):
    """The MCP client abandons a call (`notifications/cancelled`): the command is killed,
    whether `spaces mcp` forwards to `spaces serve` or runs the space itself."""
    if through == "server":
        request.getfixturevalue("served")
    assert spaces(home, "space", "create", "s", "--backend", "host", "--policy", "permissive").returncode == 0
    pid_file = Path(home) / "spaces" / "s" / "workspace" / "pid"

    async def body():
        async with connected(home) as session:
            call = asyncio.create_task(session.call_tool("shell", {"command": "echo $$ > pid; sleep 300"}))
            pid = await asyncio.to_thread(
                wait_for, lambda: pid_file.exists() and pid_file.read_text().strip(), "the command to start")
            pid = int(pid)
            assert alive(pid)
            call.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await call
            await asyncio.to_thread(wait_for, lambda: not alive(pid), "the command to be killed", 10)
            # The session goes on.
            still = await session.call_tool("shell", {"command": "echo still"})
            assert not still.is_error and "still" in text(still)

    run(body())
    events = [json.loads(line) for line in spaces(home, "log", "s", "--json").stdout.splitlines()]
    assert any(event["type"] == "failed" and event["result"]["error"]["code"] == "cancelled" for event in events)
