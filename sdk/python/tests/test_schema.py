"""The SDK's types against ``schema/protocol.schema.json``; no server needed."""

from __future__ import annotations

import copy

from schema_check import load, mismatches


def test_types_match_the_schema() -> None:
    assert mismatches(load()) == []


def test_a_field_added_to_the_schema_fails() -> None:
    schema = copy.deepcopy(load())
    schema["$defs"]["OperationResult"]["properties"]["newField"] = {"type": "string"}
    assert any("OperationResult" in problem and "newField" in problem for problem in mismatches(schema))


def test_an_event_field_added_to_the_schema_fails() -> None:
    schema = copy.deepcopy(load())
    schema["$defs"]["Event"]["properties"]["newField"] = {"type": "string"}
    assert any("Event" in problem for problem in mismatches(schema))


def test_a_method_added_to_the_schema_fails() -> None:
    schema = copy.deepcopy(load())
    schema["methods"]["space.rename"] = {"access": "supervisor", "params": {}, "result": {}}
    assert any("space.rename" in problem for problem in mismatches(schema))


def test_a_code_or_type_added_to_the_schema_fails() -> None:
    schema = copy.deepcopy(load())
    schema["$defs"]["ErrorCode"]["enum"].append("newCode")
    schema["$defs"]["Gadget"] = {"type": "object", "properties": {"a": {"type": "string"}}}
    schema["rpcErrors"]["internalError"] = -32603
    problems = mismatches(schema)
    assert any("ErrorCode" in problem for problem in problems)
    assert any("Gadget" in problem for problem in problems)
    assert any("rpcErrors" in problem for problem in problems)
