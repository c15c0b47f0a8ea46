"""The params the real client sends for every method, recorded by a stand-in server on a Unix socket and
validated against the method's params in ``schema/protocol.schema.json``."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

from schema_check import load, validate

from agent_spaces import connect

RESULT = {"id": "op_1", "space": "s", "kind": "message", "status": "completed", "durationMs": 0}
ANSWERS: dict[str, Any] = {
    "hello": {"version": "0", "protocolVersion": 1, "role": "supervisor"},
    "space.list": {"spaces": []},
    "approval.list": {"approvals": []},
    "file.list": {"entries": []},
    "events.subscribe": {"subscription": "sub-1", "spaces": ["s"]},
    "op.submit": RESULT, "file.read": RESULT, "file.write": RESULT, "file.delete": RESULT,
}
"""What the stand-in answers: just enough for the client to go on (``{}`` otherwise)."""


async def record_every_method(path: str, sent: list[tuple[str, Any]]) -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            message = json.loads(line)
            sent.append((message["method"], message["params"]))
            if "id" in message:
                answer = {"jsonrpc": "2.0", "id": message["id"], "result": ANSWERS.get(message["method"], {})}
                writer.write(json.dumps(answer).encode() + b"\n")
        writer.close()

    server = await asyncio.start_unix_server(serve, path)
    async with server:
        client = await connect(path=path, role="supervisor", token="t", space="s", client_name="test")
        await client.hello()
        await client.create_space("s", policy="permissive", backend="host", workspace="/w", network=True, image="i")
        await client.create_space("s")
        await client.list_spaces()
        await client.get_space("s")
        await client.delete_space("s")
        space = client.space("s")
        await space.create_file("a", "aGk=", encoding="base64", reason="r")
        await space.read_file("a")
        await space.edit_file("a", "x", "y")
        await space.delete_file("d", recursive=True)
        shell = space.shell("ls", timeout_ms=100, fresh=True)
        shell.cancel()  # Sent while the answer is still on its way.
        await shell
        await space.message("hi")
        await space.check_policy({"kind": "readFile", "path": "a"})
        await client.approvals()
        await client.approvals("s")
        rule = {"name": "n", "kinds": ["shell"], "paths": [], "command": None, "decision": "allow", "reason": "r"}
        await client.resolve_approval("op_1", "always", feedback="f", rules=[rule])
        await client.resolve_approval("op_1", "once")
        await client.extend_approval("op_1")
        await client.extend_approval("op_1", 60)
        await (await client.subscribe("s", 1)).close()
        await (await space.subscribe()).close()
        await client.list_files("s")
        await client.list_files("s", "d")
        await client.read_file("s", "a")
        await client.write_file("s", "a", "x", encoding="utf8")
        await client.delete_file("s", "a", recursive=True)
        await client.changes("s", "op_1", diff=True)
        await client.change_list("s", limit=5)
        await client.undo("s", "op_1")
        await client.restore("s", "op_1")
        await client.close()


def test_every_methods_params_fit_the_schema() -> None:
    sent: list[tuple[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="spaces-params-") as folder:
        asyncio.run(asyncio.wait_for(record_every_method(str(Path(folder) / "spaces.sock"), sent), 20))
    schema = load()
    problems = []
    for method, params in sent:
        if method not in schema["methods"]:
            problems.append(f"{method}: not in the schema")
        else:
            problems += [f"{method} {params}: {line}" for line in validate(schema, params, schema["methods"][method]["params"])]
    assert problems == []
    assert {method for method, _ in sent} == set(schema["methods"])
