"""Checks the SDK's wire types against ``schema/protocol.schema.json``, the one description of the wire.

``mismatches(schema)`` lists every difference: a schema type with no TypedDict here, a field one side has and
the other lacks, an enum whose values differ, a method the client never calls (or calls but the schema lacks),
a JSON-RPC error code ``errors.py`` names differently. The tests call it on the real schema (no differences) and
on modified copies (differences), so a field or method added to the schema fails here until the SDK has it.
"""

from __future__ import annotations

import json
import re
import sys
import typing
from pathlib import Path
from typing import Any

SDK = Path(__file__).resolve().parents[1]
SCHEMA = SDK.parents[1] / "schema" / "protocol.schema.json"
sys.path.insert(0, str(SDK))

from agent_spaces import errors, types  # noqa: E402

#: Schema types whose SDK name differs.
RENAMED = {"Event": "SpaceEvent"}
#: Schema types the SDK does not declare: the client builds params inline and handles these itself.
NOT_DECLARED = {
    "ApprovalExtendParams", "ApprovalListParams", "ApprovalResolveParams", "CancelParams", "ChangesParams",
    "DisconnectedNotice", "Empty", "EventNotification", "FileDeleteParams", "FileListParams", "FileReadParams",
    "FileWriteParams", "HelloParams", "RequestId", "RestoreParams", "RPCError", "SpaceCreateParams",
    "SpaceNameParams", "SubmitParams", "SubscribeParams", "UndoParams", "UnsubscribeParams",
}
#: The class of each operation kind.
OP_CLASSES = {
    "createFile": "CreateFileOp", "readFile": "ReadFileOp", "editFile": "EditFileOp",
    "deleteFile": "DeleteFileOp", "shell": "ShellOp", "message": "MessageOp",
}
#: How the client sends a method: ``call("space.get", …)``, ``send("op.submit", …)``, ``notify(…)``, ``request(…)``.
METHOD_CALL = re.compile(r'\b(?:call|send|notify|request)\(\s*"([^"]+)"')


def load() -> dict[str, Any]:
    """The schema as checked in."""
    return json.loads(SCHEMA.read_text())


def _fields(cls: Any) -> set[str]:
    return set(cls.__required_keys__) | set(cls.__optional_keys__)


def mismatches(schema: dict[str, Any]) -> list[str]:
    """Every difference between ``schema`` and this SDK's types, client and errors."""
    found: list[str] = []
    for name, definition in schema["$defs"].items():
        if name in NOT_DECLARED:
            continue
        declared = getattr(types, RENAMED.get(name, name), None)
        if declared is None:
            found.append(f"{name}: no type in types.py")
        elif "enum" in definition:
            if list(typing.get_args(declared)) != definition["enum"]:
                found.append(f"{name}: {list(typing.get_args(declared))} != {definition['enum']}")
        elif name == "Op":
            for variant in definition["oneOf"]:
                kind = variant["properties"]["kind"]["const"]
                cls = getattr(types, OP_CLASSES.get(kind, ""), None)
                if cls is None:
                    found.append(f"Op: no class for kind {kind}")
                elif _fields(cls) != set(variant["properties"]):
                    found.append(f"Op {kind}: {sorted(_fields(cls) ^ set(variant['properties']))} differ")
        elif "properties" in definition:
            if _fields(declared) != set(definition["properties"]):
                found.append(f"{name}: {sorted(_fields(declared) ^ set(definition['properties']))} differ")
    client = (SDK / "agent_spaces" / "client.py").read_text()
    called = set(METHOD_CALL.findall(client))
    for method in sorted(set(schema["methods"]) - called):
        found.append(f"method {method}: the client never calls it")
    for method in sorted(called - set(schema["methods"])):
        found.append(f"method {method}: the client calls it, the schema has no such method")
    named = dict(errors.RequestError._names)
    named[schema["rpcErrors"].get("failed", 0)] = "failed"  # An OperationError, not a RequestError.
    if {name: number for number, name in named.items()} != schema["rpcErrors"]:
        found.append(f"rpcErrors: {named} != {schema['rpcErrors']}")
    return found


if __name__ == "__main__":
    problems = mismatches(load())
    print("\n".join(problems) or "the SDK's types match the schema")
    sys.exit(1 if problems else 0)
