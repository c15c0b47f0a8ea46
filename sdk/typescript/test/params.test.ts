// The params the real client sends for every method, recorded by a stand-in server on a Unix
// socket and validated against the method's params in schema/protocol.schema.json.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { connect } from "../src/index.js";
import { loadSchema, validate, type Json } from "./schema-check.js";

/** One request or notification as the stand-in server read it. */
interface Sent {
  method: string;
  params: Json;
}

const result = { id: "op_1", space: "s", kind: "message", status: "completed", durationMs: 0 };

/** What the stand-in answers: just enough for the client to go on. */
function answer(method: string): unknown {
  switch (method) {
    case "hello":
      return { version: "0", protocolVersion: 1, role: "supervisor" };
    case "space.list":
      return { spaces: [] };
    case "approval.list":
      return { approvals: [] };
    case "file.list":
      return { entries: [] };
    case "events.subscribe":
      return { subscription: "sub-1", spaces: ["s"] };
    case "op.submit":
    case "file.read":
    case "file.write":
    case "file.delete":
      return result;
    default:
      return {};
  }
}

/** Runs `use` against a stand-in server; returns every message the client sent, in order. */
async function recording(use: (path: string) => Promise<void>): Promise<Sent[]> {
  const folder = mkdtempSync(join(tmpdir(), "spaces-params-"));
  const path = join(folder, "spaces.sock");
  const sent: Sent[] = [];
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    let buffer = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk) => {
      buffer += chunk;
      let newline: number;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const message = JSON.parse(buffer.slice(0, newline));
        buffer = buffer.slice(newline + 1);
        sent.push({ method: message.method, params: message.params });
        if (message.id !== undefined) {
          socket.write(JSON.stringify({ jsonrpc: "2.0", id: message.id, result: answer(message.method) }) + "\n");
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  try {
    await use(path);
  } finally {
    for (const socket of sockets) socket.destroy();
    server.close();
    rmSync(folder, { recursive: true, force: true });
  }
  return sent;
}

describe("the params the client sends", () => {
  test("every method's params, with and without its options, fit the schema", async () => {
    const sent = await recording(async (path) => {
      const client = await connect({ path, role: "supervisor", token: "t", space: "s", clientName: "test" });
      await client.hello();
      await client.createSpace("s", { policy: "permissive", backend: "host", workspace: "/w", network: true, image: "i" });
      await client.createSpace("s");
      await client.listSpaces();
      await client.getSpace("s");
      await client.deleteSpace("s");
      const space = client.space("s");
      await space.createFile("a", "aGk=", { encoding: "base64", reason: "r" });
      await space.readFile("a");
      await space.editFile("a", "x", "y");
      await space.deleteFile("d", { recursive: true });
      const shell = space.shell("ls", { timeoutMs: 100, fresh: true });
      await shell;
      shell.cancel();
      await space.message("hi");
      await space.checkPolicy({ kind: "readFile", path: "a" });
      await client.approvals();
      await client.approvals("s");
      await client.resolveApproval("op_1", "always", {
        feedback: "f",
        rules: [{ name: "n", kinds: ["shell"], paths: [], command: null, decision: "allow", reason: "r" }],
      });
      await client.resolveApproval("op_1", "once");
      await client.extendApproval("op_1");
      await client.extendApproval("op_1", 60);
      (await client.subscribe({ space: "s", fromSeq: 1 })).close();
      (await space.subscribe()).close();
      await client.listFiles("s");
      await client.listFiles("s", "d");
      await client.readFile("s", "a");
      await client.writeFile("s", "a", "x", { encoding: "utf8" });
      await client.deleteFile("s", "a", { recursive: true });
      await client.changes("s", "op_1", { diff: true });
      await client.changeList("s", { limit: 5 });
      await client.undo("s", "op_1");
      await client.restore("s", "op_1");
      client.close();
    });
    const schema = loadSchema();
    const found: string[] = [];
    for (const { method, params } of sent) {
      const entry = schema.methods[method];
      if (entry?.params === undefined) found.push(`${method}: not in the schema`);
      else {
        const problems = validate(schema, params, entry.params as Record<string, unknown>, method);
        found.push(...problems.map((line) => `${line}: ${JSON.stringify(params)}`));
      }
    }
    assert.deepEqual(found, []);
    assert.deepEqual([...new Set(sent.map((message) => message.method))].sort(), Object.keys(schema.methods).sort());
  });

  test("the validator refuses params the schema does not allow", () => {
    const schema = loadSchema();
    const params = (name: string) => ({ $ref: `#/$defs/${name}` });
    assert.deepEqual(validate(schema, { space: "s", path: "a" }, params("FileReadParams")), []);
    assert.ok(validate(schema, { space: "s", path: "a", offset: 1 }, params("FileReadParams")).length > 0);
    assert.ok(validate(schema, { space: "s" }, params("FileReadParams")).length > 0);
    assert.ok(validate(schema, { id: "op_1", decision: "maybe" }, params("ApprovalResolveParams")).length > 0);
    assert.ok(validate(schema, { space: "s", op: { kind: "readFile" } }, params("SubmitParams")).length > 0);
    const output = { seq: 1, time: "t", space: "s", opId: "op_1", type: "output", stream: "stdout", data: "x" };
    assert.deepEqual(validate(schema, output, params("Event")), []);
    assert.ok(validate(schema, { ...output, text: "a message's field" }, params("Event")).length > 0);
  });
});
