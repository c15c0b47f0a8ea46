"""Checks the SDK's wire types against ``schema/protocol.schema.json``, the one description of the wire.

``mismatches(schema)`` lists every difference: a schema type with no TypedDict here, a field one side has and
the other lacks, an enum whose values differ, a method the client never calls (or calls but the schema lacks),
a JSON-RPC error code ``errors.py`` names differently. Each method's declared params type (``METHOD_PARAMS``) and
each event kind's TypedDict (the members of ``SpaceEvent``) are compared field by field: the same fields, each
optional exactly when the schema does not require it, each of the schema's type. The tests call it on the real
schema (no differences) and on modified copies (differences), so a field or method added to the schema fails here
until the SDK has it. ``validate`` checks a value (e.g. params the client sent) against a part of the schema.
"""

from __future__ import annotations

import json
import re
import sys
import typing
from pathlib import Path
from typing import Any, Literal, Union

SDK = Path(__file__).resolve().parents[1]
SCHEMA = SDK.parents[1] / "schema" / "protocol.schema.json"
sys.path.insert(0, str(SDK))

import jsonschema  # noqa: E402

from agent_spaces import errors, types  # noqa: E402

#: Schema types whose SDK name differs.
RENAMED = {"Event": "SpaceEvent"}
#: Schema types the SDK does not declare: the connection reads these messages itself.
NOT_DECLARED = {"DisconnectedNotice", "EventNotification", "RPCError"}
#: The class of each operation kind.
OP_CLASSES = {
    "createFile": "CreateFileOp", "readFile": "ReadFileOp", "editFile": "EditFileOp",
    "deleteFile": "DeleteFileOp", "shell": "ShellOp", "message": "MessageOp",
}
#: How the client sends a method: ``call("space.get", …)``, ``send("op.submit", …)``, ``notify(…)``, ``request(…)``.
METHOD_CALL = re.compile(r'\b(?:call|send|notify|request)\(\s*"([^"]+)"')


def load(path: Path = SCHEMA) -> dict[str, Any]:
    """The schema as checked in (or the copy at ``path``)."""
    return json.loads(path.read_text())


def validate(schema: dict[str, Any], value: Any, part: dict[str, Any]) -> list[str]:
    """Where ``value`` breaks ``part`` of ``schema`` (e.g. a method's ``params``), by JSON Schema 2020-12."""
    validator = jsonschema.Draft202012Validator({**part, "$defs": schema["$defs"]})
    return [f"{'/'.join(map(str, error.absolute_path)) or '$'}: {error.message}" for error in validator.iter_errors(value)]


def _expected(schema: dict[str, Any], prop: dict[str, Any]) -> Any:
    """The Python type a schema property stands for."""
    if "$ref" in prop:
        name = prop["$ref"].removeprefix("#/$defs/")
        return getattr(types, RENAMED.get(name, name), name)
    if "const" in prop:
        return Literal[prop["const"]]
    if "enum" in prop:
        return Literal[tuple(prop["enum"])]
    if isinstance(prop.get("additionalProperties"), dict):
        return dict[str, _expected(schema, prop["additionalProperties"])]
    scalars = {"string": str, "integer": int, "number": float, "boolean": bool, "null": type(None)}
    kinds = prop.get("type") if isinstance(prop.get("type"), list) else [prop.get("type")]
    found = [list[_expected(schema, prop.get("items", {}))] if kind == "array" else scalars.get(kind, kind) for kind in kinds]
    return found[0] if len(found) == 1 else Union[tuple(found)]


def _compare(what: str, cls: Any, properties: dict[str, Any], required: set[str], schema: dict[str, Any]) -> list[str]:
    """The differences between TypedDict ``cls`` and a schema object's fields, requirements and types."""
    fields = _fields(cls) if typing.is_typeddict(cls) else set()
    if fields != set(properties):
        return [f"{what}: {sorted(fields ^ set(properties))} differ"]
    found = []
    hints = typing.get_type_hints(cls)
    for field, prop in properties.items():
        if (field in cls.__required_keys__) != (field in required):
            found.append(f"{what}: {field} is {'required' if field in required else 'optional'} in the schema, not in the SDK")
        if "properties" in prop:  # An inline object: its TypedDict, field by field.
            found += _compare(f"{what}.{field}", hints[field], prop["properties"], set(prop.get("required", [])), schema)
        elif hints[field] != _expected(schema, prop):
            found.append(f"{what}: {field} is {_expected(schema, prop)} in the schema, {hints[field]} in the SDK")
    return found


def params_mismatches(schema: dict[str, Any]) -> list[str]:
    """Each method's params type (``METHOD_PARAMS``) against the schema's, field by field."""
    found = []
    declared = types.METHOD_PARAMS
    for method in sorted(set(schema["methods"]) ^ set(declared)):
        found.append(f"METHOD_PARAMS: {method} is only in {'the SDK' if method in declared else 'the schema'}")
    for method, entry in schema["methods"].items():
        name = entry.get("params", {}).get("$ref", "").removeprefix("#/$defs/")
        cls = declared.get(method)
        if cls is None or name not in schema["$defs"]:
            continue
        if cls.__name__ != name:
            found.append(f"{method} params: {name} in the schema, {cls.__name__} in METHOD_PARAMS")
            continue
        definition = schema["$defs"][name]
        found += _compare(name, cls, definition.get("properties", {}), set(definition.get("required", [])), schema)
    return found


def event_mismatches(schema: dict[str, Any]) -> list[str]:
    """Each event kind's TypedDict (a member of ``SpaceEvent``) against the schema's ``Event`` variant of that type."""
    event = schema["$defs"]["Event"]
    found = []
    allowed = {field for variant in event["oneOf"] for field in variant["propertyNames"]["enum"]}
    found += [f"Event: {field} belongs to no kind" for field in sorted(set(event["properties"]) - allowed)]
    kinds = {typing.get_args(typing.get_type_hints(cls)["type"])[0]: cls for cls in typing.get_args(types.SpaceEvent)}
    variants = {variant["properties"]["type"]["const"]: variant for variant in event["oneOf"]}
    for kind in sorted(set(kinds) ^ set(variants)):
        found.append(f"Event kind {kind}: only in {'the SDK' if kind in kinds else 'the schema'}")
    for kind, variant in variants.items():
        if kind not in kinds:
            continue
        properties = {
            field: {"const": kind} if field == "type" else event["properties"].get(field, {})
            for field in variant["propertyNames"]["enum"]
        }
        required = set(event["required"]) | set(variant.get("required", []))
        found += _compare(f"Event {kind}", kinds[kind], properties, required, schema)
    return found


def _fields(cls: Any) -> set[str]:
    return set(cls.__required_keys__) | set(cls.__optional_keys__)


def mismatches(schema: dict[str, Any]) -> list[str]:
    """Every difference between ``schema`` and this SDK's types, client and errors."""
    found: list[str] = []
    for name, definition in schema["$defs"].items():
        if name in NOT_DECLARED or name == "Event":
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
            found += _compare(name, declared, definition["properties"], set(definition.get("required", [])), schema)
    found += params_mismatches(schema) + event_mismatches(schema)
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
