import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { loadSchema, loadSources, schemaMismatches, type Schema } from "./schema-check.js";

/** A deep copy of the schema to change. */
function scratch(): Schema {
  return JSON.parse(JSON.stringify(loadSchema())) as Schema;
}

describe("the SDK's types against schema/protocol.schema.json", () => {
  test("they match", () => {
    assert.deepEqual(schemaMismatches(loadSchema(), loadSources()), []);
  });

  test("a field added to the schema fails", () => {
    const schema = scratch();
    (schema.$defs.OperationResult.properties ?? {}).newField = { type: "string" };
    const found = schemaMismatches(schema, loadSources());
    assert.ok(found.some((line) => line.startsWith("OperationResult") && line.includes("newField")), found.join("\n"));
  });

  test("an event field added to the schema fails", () => {
    const schema = scratch();
    (schema.$defs.Event.properties ?? {}).newField = { type: "string" };
    assert.ok(schemaMismatches(schema, loadSources()).some((line) => line.startsWith("Event")));
  });

  test("a method added to the schema fails", () => {
    const schema = scratch();
    schema.methods["space.rename"] = { access: "supervisor" };
    assert.ok(schemaMismatches(schema, loadSources()).some((line) => line.includes("space.rename")));
  });

  test("an error code, a type or an op field added to the schema fails", () => {
    const schema = scratch();
    schema.$defs.ErrorCode.enum?.push("newCode");
    schema.$defs.Gadget = { properties: { a: {} } };
    schema.rpcErrors.internalError = -32603;
    const shell = schema.$defs.Op.oneOf?.find((variant) => variant.properties.kind?.const === "shell");
    if (shell) shell.properties.niceness = {};
    const found = schemaMismatches(schema, loadSources());
    for (const what of ["ErrorCode", "Gadget", "rpcErrors", "Op shell"]) {
      assert.ok(found.some((line) => line.startsWith(what)), `${what}: ${found.join("\n")}`);
    }
  });
});
