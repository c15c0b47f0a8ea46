"""The Python SDK against a real ``spaces serve``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from agent_spaces import (
    ConnectionLostError,
    DeniedError,
    OperationError,
    RequestError,
    SpacesClient,
    SpacesError,
    SpaceEvent,
    connect,
)


def run(test: Callable[[], Awaitable[Any]], timeout: float = 30) -> Any:
    """Runs an async test body with a deadline."""
    return asyncio.run(asyncio.wait_for(test(), timeout))


async def wait_for_approval(supervisor: SpacesClient, space: str) -> Any:
    while not (requests := await supervisor.approvals(space)):
        await asyncio.sleep(0.025)
    return requests[0]


def test_connect_says_hello(server):
    async def body():
        async with server.connect(client_name="sdk-test") as agent:
            assert agent.info["role"] == "agent"
            assert agent.info["protocolVersion"] == 1
        async with server.connect(role="supervisor") as supervisor:
            assert supervisor.info["role"] == "supervisor"
        async with server.connect(space="work") as bound:
            assert bound.info["space"] == "work"
        with pytest.raises(RequestError) as wrong:
            await server.connect(role="supervisor", token="nope")
        assert wrong.value.code == "forbidden"
        with pytest.raises(ConnectionLostError):
            await connect(server.home + "/missing.sock")
    run(body)


def test_spaces_create_list_get(server):
    async def body():
        async with server.connect() as agent, server.connect(role="supervisor") as supervisor:
            with pytest.raises(RequestError) as refused:
                await agent.create_space("mine")
            assert refused.value.code == "forbidden"
            created = await supervisor.create_space("fresh", backend="host")
            assert created["name"] == "fresh" and created["policy"] == "standard"
            names = [space["name"] for space in await agent.list_spaces()]
            assert {"work", "locked", "asks", "fresh"} <= set(names)
            assert (await agent.get_space("fresh"))["backend"] == "host"
            assert (await agent.space("fresh").config())["workspace"] == created["workspace"]
            with pytest.raises(OperationError) as missing:
                await agent.get_space("nowhere")
            assert missing.value.code == "spaceNotFound"
            with pytest.raises(OperationError) as exists:
                await supervisor.create_space("fresh")
            assert exists.value.code == "spaceExists"
    run(body)


def test_every_operation(server):
    async def body():
        async with server.connect() as agent:
            space = agent.space("work")
            created = await space.create_file("notes/a.txt", "hello world\n")
            assert created["status"] == "completed" and created["id"].startswith("op_")
            read = await space.read_file("notes/a.txt")
            assert read["content"] == "hello world\n" and read["size"] == 12
            assert read["sha256"] == "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447"
            await space.edit_file("notes/a.txt", "world", "spaces")
            assert (await space.read_file("notes/a.txt"))["content"] == "hello spaces\n"
            await space.create_file("bin.dat", "/wA=", encoding="base64")
            binary = await space.read_file("bin.dat")
            assert (binary["encoding"], binary["content"]) == ("base64", "/wA=")
            assert (await space.delete_file("notes", recursive=True))["status"] == "completed"
            with pytest.raises(OperationError) as gone:
                await space.read_file("notes/a.txt")
            assert gone.value.code == "notFound"
            shell = await space.shell("printf 'a b'")
            assert (shell["stdout"], shell["exitCode"]) == ("a b", 0)
            assert (await space.message("done"))["kind"] == "message"
            assert (await space.check_policy({"kind": "shell", "command": "ls"}))["decision"] == "allow"
    run(body)


def test_shell_streams_stdout_and_stderr_apart(server):
    async def body():
        async with server.connect() as agent:
            stdout: list[str] = []
            stderr: list[str] = []
            operation = agent.space("work").shell(
                "echo out; echo err >&2; exit 3", on_stdout=stdout.append, on_stderr=stderr.append)
            events = [event async for event in operation]
            result = await operation
            assert result["exitCode"] == 3, "a non-zero exit is a normal result"
            assert (result["stdout"], result["stderr"]) == ("out\n", "err\n")
            assert ("".join(stdout), "".join(stderr)) == ("out\n", "err\n")
            types = [event["type"] for event in events]
            assert types[0] == "received" and types[-1] == "completed" and "output" in types
            assert all(event["opId"] == result["id"] for event in events)
    run(body)


def test_shell_session_carries_the_folder(server):
    async def body():
        async with server.connect() as agent:
            space = agent.space("work")
            entered = await space.shell("mkdir -p pysession/inner && cd pysession/inner")
            assert entered["cwd"] == "pysession/inner"
            here = await space.shell("pwd")
            assert here["stdout"].endswith("/pysession/inner\n")
            fresh = await space.shell("pwd", fresh=True)
            assert fresh["cwd"] == "."
            assert "/pysession/inner" not in fresh["stdout"]
    run(body)


def test_output_is_sent_once_and_put_back_together(server):
    async def body():
        async with server.connect() as agent:
            expected = "".join(f"{n}\n" for n in range(1, 20001)) + "é😀"
            operation = agent.space("work").shell("seq 1 20000; printf 'é😀'")
            events = [event async for event in operation]
            result = await operation
            assert result["stdout"] == expected and "streamed" not in result
            completed = events[-1]["result"]
            assert completed["streamed"]["stdout"] == len(expected.encode())
            assert completed["stdout"] == ""
    run(body)


def test_changes_undo_and_restore(server):
    async def body():
        async with server.connect(space="work") as agent, server.connect(role="supervisor") as supervisor:
            written = await agent.space("work").create_file("undo-py.txt", "one\n")
            seen = await agent.changes("work", written["id"])
            assert seen["status"] == "recorded"
            assert "+ one" in seen["diff"]
            with pytest.raises(RequestError) as forbidden:
                await agent.undo("work", written["id"])
            assert forbidden.value.rpc_code == -32003
            with pytest.raises(RequestError):
                await agent.restore("work", written["id"])
            undone = await supervisor.undo("work", written["id"])
            assert undone["undid"] == [written["id"]]
            with pytest.raises(SpacesError) as refused:
                await supervisor.undo("work", written["id"])
            assert undone["id"] in str(refused.value)
            restored = await supervisor.restore("work", undone["id"])
            assert restored["undid"] == [undone["id"]]
            assert (await agent.space("work").read_file("undo-py.txt"))["content"] == "one\n"
    run(body)


def test_denied_raises_with_the_reason(server):
    async def body():
        async with server.connect() as agent:
            with pytest.raises(DeniedError) as denied:
                await agent.space("locked").create_file("a.txt", "x")
            assert denied.value.decided_by == "policy"
            assert "read-only" in denied.value.reason
            assert denied.value.result["status"] == "denied"
            with pytest.raises(DeniedError):
                await agent.space("locked").shell("ls")
    run(body)


def test_failed_raises_with_the_code(server):
    async def body():
        async with server.connect() as agent:
            space = agent.space("work")
            await space.create_file("e.txt", "one one")
            with pytest.raises(OperationError) as ambiguous:
                await space.edit_file("e.txt", "one", "two")
            assert ambiguous.value.code == "editAmbiguous"
            assert ambiguous.value.result and ambiguous.value.result["status"] == "failed"
            for operation, code in [
                (space.edit_file("e.txt", "three", "two"), "editNoMatch"),
                (space.read_file("../outside"), "pathOutsideWorkspace"),
                (space.shell("sleep 5", timeout_ms=200), "timeout"),
            ]:
                with pytest.raises(OperationError) as failed:
                    await operation
                assert failed.value.code == code
    run(body)


def test_cancel_stops_a_running_command(server):
    async def body():
        async with server.connect() as agent:
            space = agent.space("work")
            running = space.shell("echo started; sleep 300")
            async for event in running:
                if event.get("type") == "output":
                    break
            running.cancel()
            with pytest.raises(OperationError) as cancelled:
                await asyncio.wait_for(running, 10)
            assert cancelled.value.code == "cancelled"
            # The connection goes on.
            assert (await space.shell("echo still"))["stdout"] == "still\n"
    run(body)


def test_supervisor_denies_with_feedback(server):
    async def body():
        async with server.connect() as agent, server.connect(role="supervisor") as supervisor:
            seen: list[SpaceEvent] = []
            pending = agent.space("asks").shell("curl http://127.0.0.1:9", on_event=seen.append)
            request = await asyncio.wait_for(wait_for_approval(supervisor, "asks"), 10)
            assert request["op"]["kind"] == "shell"
            assert request["decision"]["decision"] == "ask"
            await supervisor.resolve_approval(request["id"], "deny", feedback="no network, use the cached copy")
            with pytest.raises(DeniedError) as denied:
                await asyncio.wait_for(pending, 10)
            assert denied.value.reason == "no network, use the cached copy"
            assert denied.value.decided_by == "person"
            assert any(event["type"] == "approvalRequested" for event in seen)
            with pytest.raises(OperationError) as closed:
                await supervisor.resolve_approval(request["id"], "once")
            assert closed.value.code == "approvalClosed"
    run(body)


def test_supervisor_approves_once(server):
    async def body():
        async with server.connect() as agent, server.connect(role="supervisor") as supervisor:
            pending = agent.space("asks").shell("curl --version >/dev/null; echo approved")
            request = await asyncio.wait_for(wait_for_approval(supervisor, "asks"), 10)
            await supervisor.resolve_approval(request["id"], "once")
            assert (await asyncio.wait_for(pending, 10))["stdout"] == "approved\n"
    run(body)


def test_reason_reaches_the_journal_and_a_supervisor_extends_the_deadline(server):
    async def body():
        async with server.connect() as agent, server.connect(role="supervisor") as supervisor:
            reason = "I need the release notes from the mirror to fill in CHANGELOG.md"
            pending = agent.space("asks").shell("curl --version >/dev/null; echo later", reason=reason)
            request = await asyncio.wait_for(wait_for_approval(supervisor, "asks"), 10)
            assert request.get("reason") == reason
            with pytest.raises(RequestError) as forbidden:
                await agent.extend_approval(request["id"], 60)
            assert forbidden.value.code == "forbidden"
            extended = await supervisor.extend_approval(request["id"], 60)
            assert (extended["id"], extended["seconds"], extended["totalSeconds"]) == (request["id"], 60, 60)
            assert extended["deadline"] > request["deadline"]
            waiting = [r for r in await supervisor.approvals("asks") if r["id"] == request["id"]]
            assert waiting[0]["deadline"] == extended["deadline"]
            with pytest.raises(RequestError, match="from 1 to 3600"):
                await supervisor.extend_approval(request["id"], -5)
            await supervisor.resolve_approval(request["id"], "once")
            result = await asyncio.wait_for(pending, 10)
            assert result["stdout"] == "later\n"

            events: list[SpaceEvent] = []
            async with await supervisor.subscribe("asks", from_seq=1) as subscription:
                async for event in subscription:
                    if event["opId"] == result["id"]:
                        events.append(event)
                    if event["opId"] == result["id"] and event["type"] == "completed":
                        break
            received = next(event for event in events if event["type"] == "received")
            assert received.get("reason") == reason
            more = next(event for event in events if event["type"] == "approvalExtended")
            assert (more.get("deadline"), more.get("seconds"), more.get("actor")) == (extended["deadline"], 60, "person")

            with pytest.raises(RequestError) as long:
                await agent.space("asks").message("hi", reason="x" * 501)
            assert long.value.code == "invalidParams"
            assert '"reason" is 501 characters long; it may have at most 500' in str(long.value)
    run(body)


def test_subscription_receives_events(server):
    async def body():
        async with server.connect() as agent, server.connect(role="supervisor") as supervisor:
            subscription = await supervisor.subscribe("work", from_seq=1)
            assert subscription.spaces == ["work"]
            result = await agent.space("work").message("watch this")
            events: list[SpaceEvent] = []
            async for event in subscription:
                events.append(event)
                if event["opId"] == result["id"] and event["type"] == "completed":
                    break
            assert [event["seq"] for event in events] == list(range(1, len(events) + 1)), "in order, no gap"
            assert any(event["type"] == "message" and event.get("text") == "watch this" for event in events)
            await subscription.close()

            async with await agent.space("work").subscribe() as live:
                await agent.space("work").message("live")
                first = await asyncio.wait_for(live.__aiter__().__anext__(), 5)
                assert first["type"] == "received"
    run(body)


def test_bad_input_gives_a_clear_error(server):
    async def body():
        async with server.connect() as agent:
            with pytest.raises(RequestError) as bogus:
                await agent.submit("work", {"kind": "bogus"})  # type: ignore[typeddict-item]
            assert (bogus.value.code, bogus.value.rpc_code) == ("invalidParams", -32602)
            assert 'unknown kind "bogus"' in str(bogus.value)
            with pytest.raises(RequestError, match='readFile needs "path"'):
                await agent.submit("work", {"kind": "readFile"})  # type: ignore[typeddict-item]
            with pytest.raises(RequestError) as unknown:
                await agent.call("no.such")
            assert unknown.value.code == "methodNotFound"
            with pytest.raises(RequestError) as forbidden:
                await agent.resolve_approval("op_x", "once")
            assert forbidden.value.code == "forbidden"
            with pytest.raises(OperationError) as missing:
                await agent.space("nowhere").read_file("a")
            assert missing.value.code == "spaceNotFound"
    run(body)


def test_lost_connection_fails_pending_calls_and_iterators(fresh_server):
    async def drain(iterable) -> None:
        async for _ in iterable:
            pass

    async def body():
        supervisor = await fresh_server.connect(role="supervisor")
        await supervisor.create_space("s", policy="permissive", backend="host")
        agent = await fresh_server.connect(space="s")
        subscription = await supervisor.subscribe("s")
        iteration = asyncio.ensure_future(drain(subscription))
        running = agent.space("s").shell("sleep 5")
        events = asyncio.ensure_future(drain(running))
        await asyncio.sleep(0.3)
        started = time.monotonic()
        fresh_server.kill()
        for waiting in (running, events, iteration):
            with pytest.raises(ConnectionLostError):
                await asyncio.wait_for(waiting, 3)
        assert time.monotonic() - started < 3
        with pytest.raises(ConnectionLostError):
            await asyncio.wait_for(agent.list_spaces(), 1)
        await agent.close()
        await supervisor.close()
    run(body)
