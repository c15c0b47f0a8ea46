"""The SDK's types against ``schema/protocol.schema.json``; no server needed."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from schema_check import load, mismatches, validate


def scratch(change: Callable[[dict[str, Any]], None]) -> list[str]:
    """The differences the check finds with a scratch copy of the schema, changed by ``change``, in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="spaces-schema-") as folder:
        schema = load()
        change(schema)
        path = Path(folder) / "protocol.schema.json"
        path.write_text(json.dumps(schema, indent=2))
        return mismatches(load(path))


def found(problems: list[str], what: str, detail: str = "") -> bool:
    return any(problem.startswith(what) and detail in problem for problem in problems)


def variant(schema: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(v for v in schema["$defs"]["Event"]["oneOf"] if v["properties"]["type"]["const"] == kind)


def test_types_match_the_schema() -> None:
    assert mismatches(load()) == []


def test_a_field_added_to_the_schema_fails() -> None:
    problems = scratch(lambda schema: schema["$defs"]["OperationResult"]["properties"].update(newField={"type": "string"}))
    assert found(problems, "OperationResult", "newField"), problems


def test_a_field_added_to_a_methods_params_fails() -> None:
    problems = scratch(lambda schema: schema["$defs"]["FileReadParams"]["properties"].update(offset={"type": "integer"}))
    assert found(problems, "FileReadParams", "offset"), problems


def test_a_params_field_required_or_of_another_type_fails() -> None:
    def change(schema: dict[str, Any]) -> None:
        schema["$defs"]["HelloParams"]["required"] = ["role"]
        schema["$defs"]["SubmitParams"]["properties"]["reason"] = {"type": "integer"}
        schema["methods"]["space.get"]["params"] = {"$ref": "#/$defs/FileReadParams"}

    problems = scratch(change)
    assert found(problems, "HelloParams", "role is required"), problems
    assert found(problems, "SubmitParams", "reason is <class 'int'>"), problems
    assert found(problems, "space.get params", "FileReadParams"), problems


def test_a_field_added_to_one_event_kind_fails() -> None:
    def change(schema: dict[str, Any]) -> None:
        schema["$defs"]["Event"]["properties"]["exitCode"] = {"type": "integer"}
        variant(schema, "output")["propertyNames"]["enum"].append("exitCode")

    problems = scratch(change)
    assert found(problems, "Event output", "exitCode"), problems


def test_an_event_kind_added_a_field_of_no_kind_or_a_field_made_required_fails() -> None:
    def change(schema: dict[str, Any]) -> None:
        schema["$defs"]["Event"]["properties"]["newField"] = {"type": "string"}
        variant(schema, "received")["required"].append("reason")
        schema["$defs"]["Event"]["oneOf"].append(
            {"properties": {"type": {"const": "paused"}}, "propertyNames": {"enum": ["type"]}})

    problems = scratch(change)
    assert found(problems, "Event", "newField"), problems
    assert found(problems, "Event received", "reason is required"), problems
    assert found(problems, "Event kind paused"), problems


def test_a_result_field_made_optional_or_a_field_added_to_an_inline_object_fails() -> None:
    def change(schema: dict[str, Any]) -> None:
        schema["$defs"]["OperationResult"]["required"].remove("id")
        schema["$defs"]["SpaceConfig"]["properties"]["capabilities"]["properties"]["gpu"] = {"type": "boolean"}

    problems = scratch(change)
    assert found(problems, "OperationResult", "id is optional"), problems
    assert found(problems, "SpaceConfig.capabilities", "gpu"), problems


def test_a_method_added_to_the_schema_fails() -> None:
    problems = scratch(lambda schema: schema["methods"].update({"space.rename": {"access": "supervisor", "params": {}}}))
    assert found(problems, "method space.rename"), problems
    assert found(problems, "METHOD_PARAMS", "space.rename"), problems


def test_a_code_or_type_added_to_the_schema_fails() -> None:
    def change(schema: dict[str, Any]) -> None:
        schema["$defs"]["ErrorCode"]["enum"].append("newCode")
        schema["$defs"]["Gadget"] = {"type": "object", "properties": {"a": {"type": "string"}}}
        schema["rpcErrors"]["internalError"] = -32603

    problems = scratch(change)
    for what in ("ErrorCode", "Gadget", "rpcErrors"):
        assert found(problems, what), problems


def test_the_validator_refuses_what_the_schema_does_not_allow() -> None:
    schema = load()
    read = {"$ref": "#/$defs/FileReadParams"}
    assert validate(schema, {"space": "s", "path": "a"}, read) == []
    assert validate(schema, {"space": "s", "path": "a", "offset": 1}, read)
    assert validate(schema, {"space": "s"}, read)
    output = {"seq": 1, "time": "t", "space": "s", "opId": "op_1", "type": "output", "stream": "stdout", "data": "x"}
    assert validate(schema, output, {"$ref": "#/$defs/Event"}) == []
    assert validate(schema, {**output, "text": "a message's field"}, {"$ref": "#/$defs/Event"})
