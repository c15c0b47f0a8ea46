import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { loadSchema, loadSources, schemaMismatches, type Schema } from "./schema-check.js";

/** The differences the check finds with a scratch copy of the schema, changed by `change`, in a temporary folder. */
function withScratchSchema(change: (schema: Schema) => void): string[] {
  const folder = mkdtempSync(join(tmpdir(), "spaces-schema-"));
  try {
    const schema = loadSchema();
    change(schema);
    const path = join(folder, "protocol.schema.json");
    writeFileSync(path, JSON.stringify(schema, null, 2));
    return schemaMismatches(loadSchema(path), loadSources());
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

/** Asserts that some difference starts with `what` (and mentions `detail`). */
function assertFound(found: string[], what: string, detail = ""): void {
  assert.ok(found.some((line) => line.startsWith(what) && line.includes(detail)), `${what} ${detail}: ${found.join("\n")}`);
}

describe("the SDK's types against schema/protocol.schema.json", () => {
  test("they match", () => {
    assert.deepEqual(schemaMismatches(loadSchema(), loadSources()), []);
  });

  test("a field added to the schema fails", () => {
    const found = withScratchSchema((schema) => {
      (schema.$defs.OperationResult.properties ?? {}).newField = { type: "string" };
    });
    assertFound(found, "OperationResult", "newField");
  });

  test("a field added to a method's params fails", () => {
    const found = withScratchSchema((schema) => {
      (schema.$defs.FileReadParams.properties ?? {}).offset = { type: "integer" };
    });
    assertFound(found, "FileReadParams", "offset");
  });

  test("a params field required, or of another type, in the schema fails", () => {
    const found = withScratchSchema((schema) => {
      schema.$defs.HelloParams.required = ["role"];
      (schema.$defs.SubmitParams.properties ?? {}).reason = { type: "integer" };
      schema.methods["space.get"].params = { $ref: "#/$defs/FileReadParams" };
    });
    assertFound(found, "HelloParams", "role is required");
    assertFound(found, "SubmitParams", "reason is number");
    assertFound(found, "space.get params", "FileReadParams");
  });

  test("a field added to one event kind fails", () => {
    const found = withScratchSchema((schema) => {
      (schema.$defs.Event.properties ?? {}).exitCode = { type: "integer" };
      const output = schema.$defs.Event.oneOf?.find((variant) => variant.properties.type?.const === "output");
      output?.propertyNames?.enum.push("exitCode");
    });
    assertFound(found, "Event output", "exitCode");
  });

  test("an event kind added, a field of no kind or a kind's field made required fails", () => {
    const found = withScratchSchema((schema) => {
      (schema.$defs.Event.properties ?? {}).newField = { type: "string" };
      const received = schema.$defs.Event.oneOf?.find((variant) => variant.properties.type?.const === "received");
      received?.required?.push("reason");
      schema.$defs.Event.oneOf?.push({ properties: { type: { const: "paused" } }, propertyNames: { enum: ["type"] } });
    });
    assertFound(found, "Event", "newField");
    assertFound(found, "Event received", "reason is required");
    assertFound(found, "Event (kinds)", "paused");
  });

  test("a result field made optional, or a field added to an inline object, fails", () => {
    const found = withScratchSchema((schema) => {
      schema.$defs.OperationResult.required = (schema.$defs.OperationResult.required ?? []).filter((f) => f !== "id");
      const capabilities = schema.$defs.SpaceConfig.properties?.capabilities;
      if (capabilities?.properties) capabilities.properties.gpu = { type: "boolean" };
    });
    assertFound(found, "OperationResult", "id is optional");
    assertFound(found, "SpaceConfig.capabilities", "gpu");
  });

  test("a method added to the schema fails", () => {
    const found = withScratchSchema((schema) => {
      schema.methods["space.rename"] = { access: "supervisor" };
    });
    assertFound(found, "methods (client calls)", "space.rename");
    assertFound(found, "MethodParams (methods)", "space.rename");
  });

  test("an error code, a type or an op field added to the schema fails", () => {
    const found = withScratchSchema((schema) => {
      schema.$defs.ErrorCode.enum?.push("newCode");
      schema.$defs.Gadget = { properties: { a: {} } };
      schema.rpcErrors.internalError = -32603;
      const shell = schema.$defs.Op.oneOf?.find((variant) => variant.properties.kind?.const === "shell");
      if (shell) shell.properties.niceness = {};
    });
    for (const what of ["ErrorCode", "Gadget", "rpcErrors", "Op shell"]) assertFound(found, what);
  });
});
