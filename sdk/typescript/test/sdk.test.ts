import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  connect,
  ConnectionLostError,
  DeniedError,
  OperationError,
  RequestError,
  type ApprovalExtendedEvent,
  type ReceivedEvent,
  type SpaceEvent,
  type SpacesClient,
} from "../src/index.js";
import { sleep, TestServer, within } from "./server.js";

describe("agent-spaces SDK against spaces serve", () => {
  let server: TestServer;
  /** An agent not bound to a space yet (it binds to the first space it works in). */
  let agent: SpacesClient;
  let supervisor: SpacesClient;
  /** One agent per space: an agent connection stays in one space for its life. */
  const agents: Record<string, SpacesClient> = {};

  before(async () => {
    server = await TestServer.start();
    agent = await server.connect({ clientName: "sdk-test" });
    supervisor = await server.connect({ role: "supervisor" });
    await supervisor.createSpace("work", { policy: "permissive", backend: "host" });
    await supervisor.createSpace("locked", { policy: "restrictive", backend: "host" });
    await supervisor.createSpace("asks", { policy: "standard", backend: "host" });
    for (const name of ["work", "locked", "asks"]) agents[name] = await server.connect({ space: name });
  });

  after(async () => {
    agent?.close();
    supervisor?.close();
    for (const client of Object.values(agents)) client.close();
    await server?.stop();
  });

  test("connect says hello as agent or supervisor", async () => {
    assert.equal(agent.info.role, "agent");
    assert.equal(agent.info.protocolVersion, 1);
    assert.match(agent.info.version, /\d+\.\d+/);
    assert.equal(supervisor.info.role, "supervisor");
    const bound = await server.connect({ space: "work" });
    assert.equal(bound.info.space, "work");
    bound.close();
  });

  test("a wrong token or a missing socket is a clear error", async () => {
    await assert.rejects(server.connect({ role: "supervisor", token: "nope" }), (error: unknown) => {
      assert.ok(error instanceof RequestError);
      assert.equal(error.code, "forbidden");
      return true;
    });
    await assert.rejects(connect({ path: `${server.home}/missing.sock` }), ConnectionLostError);
  });

  test("spaces: create, list, get", async () => {
    await assert.rejects(agent.createSpace("mine"), { name: "RequestError", code: "forbidden" });
    const created = await supervisor.createSpace("fresh", { backend: "host" });
    assert.equal(created.name, "fresh");
    assert.equal(created.policy, "standard");
    const names = (await agent.listSpaces()).map((space) => space.name);
    for (const name of ["work", "locked", "asks", "fresh"]) assert.ok(names.includes(name), name);
    assert.equal((await agent.getSpace("fresh")).backend, "host");
    assert.equal((await agent.space("fresh").config()).workspace, created.workspace);
    await assert.rejects(agent.getSpace("nowhere"), { name: "OperationError", code: "spaceNotFound" });
    await assert.rejects(supervisor.createSpace("fresh"), { name: "OperationError", code: "spaceExists" });
  });

  test("every operation", async () => {
    const space = agents.work.space("work");
    const created = await space.createFile("notes/a.txt", "hello world\n");
    assert.equal(created.status, "completed");
    assert.equal(created.kind, "createFile");
    assert.match(created.id, /^op_/);
    const read = await space.readFile("notes/a.txt");
    assert.equal(read.content, "hello world\n");
    assert.equal(read.size, 12);
    assert.equal(read.sha256, "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447");
    await space.editFile("notes/a.txt", "world", "spaces");
    assert.equal((await space.readFile("notes/a.txt")).content, "hello spaces\n");
    await space.createFile("bin.dat", "/wA=", { encoding: "base64" }); // not UTF-8
    const binary = await space.readFile("bin.dat");
    assert.equal(binary.encoding, "base64");
    assert.equal(binary.content, "/wA=");
    assert.equal((await space.deleteFile("notes", { recursive: true })).status, "completed");
    await assert.rejects(space.readFile("notes/a.txt"), { code: "notFound" });
    const shell = await space.shell("printf 'a b'");
    assert.equal(shell.stdout, "a b");
    assert.equal(shell.exitCode, 0);
    assert.equal((await space.message("done")).kind, "message");
    assert.equal((await space.checkPolicy({ kind: "shell", command: "ls" })).decision, "allow");
  });

  test("shell streams stdout and stderr apart, and its events", async () => {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const operation = agents.work.space("work").shell("echo out; echo err >&2; exit 3", {
      onStdout: (data) => stdout.push(data),
      onStderr: (data) => stderr.push(data),
    });
    const events: SpaceEvent[] = [];
    for await (const event of operation) events.push(event);
    const result = await operation;
    assert.equal(result.exitCode, 3, "a non-zero exit is a normal result");
    assert.equal(result.stdout, "out\n");
    assert.equal(result.stderr, "err\n");
    assert.equal(stdout.join(""), "out\n");
    assert.equal(stderr.join(""), "err\n");
    const types = events.map((event) => event.type);
    assert.equal(types[0], "received");
    assert.equal(types[types.length - 1], "completed");
    assert.ok(types.includes("output"));
    assert.ok(events.every((event) => event.opId === result.id));
  });

  test("the shell session carries the folder; fresh starts in the workspace root", async () => {
    const space = agents.work.space("work");
    const entered = await space.shell("mkdir -p session/inner && cd session/inner");
    assert.equal(entered.cwd, "session/inner");
    const here = await space.shell("pwd");
    assert.ok(here.stdout.endsWith("/session/inner\n"), here.stdout);
    const fresh = await space.shell("pwd", { fresh: true });
    assert.equal(fresh.cwd, ".");
    assert.ok(!fresh.stdout.includes("/session/inner"), fresh.stdout);
  });

  test("output is sent once and put back together", async () => {
    let expected = "";
    for (let n = 1; n <= 20000; n++) expected += `${n}\n`;
    expected += "é😀";
    const operation = agents.work.space("work").shell("seq 1 20000; printf 'é😀'");
    const events: SpaceEvent[] = [];
    for await (const event of operation) events.push(event);
    const result = await operation;
    assert.equal(result.stdout, expected);
    assert.equal(result.streamed, undefined);
    const last = events[events.length - 1];
    assert.equal(last.type, "completed");
    const completed = last.type === "completed" ? last.result : undefined;
    assert.equal(completed?.streamed?.stdout, new TextEncoder().encode(expected).length);
    assert.equal(completed?.stdout, "");
  });

  test("changes, undo and restore: a supervisor undoes, an agent may only look", async () => {
    const space = agents.work.space("work");
    const written = await space.createFile("undo-me.txt", "one\n");
    const seen = await agents.work.changes("work", written.id);
    assert.equal(seen.status, "recorded");
    assert.match(seen.diff ?? "", /\+ one/);
    await assert.rejects(agents.work.undo("work", written.id), { name: "RequestError", code: "forbidden", rpcCode: -32003 });
    await assert.rejects(agents.work.restore("work", written.id), { name: "RequestError", code: "forbidden", rpcCode: -32003 });
    const undone = await supervisor.undo("work", written.id);
    assert.deepEqual(undone.undid, [written.id]);
    assert.equal(undone.changes.deleted, 1);
    await assert.rejects(supervisor.undo("work", written.id), (error: unknown) => {
      assert.match(String((error as Error).message), new RegExp(undone.id));
      return true;
    });
    const restored = await supervisor.restore("work", undone.id);
    assert.deepEqual(restored.undid, [undone.id]);
    assert.equal((await space.readFile("undo-me.txt")).content, "one\n");
  });

  test("a denied operation raises DeniedError with the reason", async () => {
    const space = agents.locked.space("locked");
    await assert.rejects(space.createFile("a.txt", "x"), (error: unknown) => {
      assert.ok(error instanceof DeniedError);
      assert.equal(error.decidedBy, "policy");
      assert.match(error.reason, /read-only/);
      assert.equal(error.result.status, "denied");
      return true;
    });
    await assert.rejects(space.shell("ls"), DeniedError);
  });

  test("a failed operation raises OperationError with the code", async () => {
    const space = agents.work.space("work");
    await space.createFile("e.txt", "one one");
    await assert.rejects(space.editFile("e.txt", "one", "two"), (error: unknown) => {
      assert.ok(error instanceof OperationError);
      assert.equal(error.code, "editAmbiguous");
      assert.equal(error.result?.status, "failed");
      return true;
    });
    await assert.rejects(space.editFile("e.txt", "three", "two"), { code: "editNoMatch" });
    await assert.rejects(space.readFile("../outside"), { code: "pathOutsideWorkspace" });
    await assert.rejects(space.shell("sleep 5", { timeoutMs: 200 }), { code: "timeout" });
  });

  test("cancel() stops a running command; the operation fails with code cancelled", async () => {
    const space = agents.work.space("work");
    const running = space.shell("echo started; sleep 300");
    for await (const event of running) {
      if (event.type === "output") break;
    }
    running.cancel();
    await within(
      10_000,
      assert.rejects(running, (error: unknown) => {
        assert.ok(error instanceof OperationError);
        assert.equal(error.code, "cancelled");
        return true;
      }),
      "the cancelled operation",
    );
    // The connection goes on.
    assert.equal((await space.shell("echo still")).stdout, "still\n");
  });

  test("a supervisor denies an approval with feedback; the agent gets it as the reason", async () => {
    const seen: SpaceEvent[] = [];
    const pending = agents.asks.space("asks").shell("curl http://127.0.0.1:9", { onEvent: (event) => seen.push(event) });
    const request = await within(10_000, waitForApproval(supervisor, "asks"), "the approval request");
    assert.equal(request.op.kind, "shell");
    assert.equal(request.decision.decision, "ask");
    await supervisor.resolveApproval(request.id, "deny", { feedback: "no network, use the cached copy" });
    await assert.rejects(within(10_000, pending), (error: unknown) => {
      assert.ok(error instanceof DeniedError);
      assert.equal(error.reason, "no network, use the cached copy");
      assert.equal(error.decidedBy, "person");
      return true;
    });
    assert.ok(seen.some((event) => event.type === "approvalRequested"));
    await assert.rejects(supervisor.resolveApproval(request.id, "once"), { code: "approvalClosed" });
  });

  test("a supervisor approves once and the operation runs", async () => {
    const pending = agents.asks.space("asks").shell("curl --version >/dev/null; echo approved");
    const request = await within(10_000, waitForApproval(supervisor, "asks"), "the approval request");
    await supervisor.resolveApproval(request.id, "once");
    assert.equal((await within(10_000, pending)).stdout, "approved\n");
  });

  test("an operation's reason reaches the journal and the approval; a supervisor extends its deadline", async () => {
    const reason = "I need the release notes from the mirror to fill in CHANGELOG.md";
    const pending = agents.asks.space("asks").shell("curl --version >/dev/null; echo later", { reason });
    const request = await within(10_000, waitForApproval(supervisor, "asks"), "the approval request");
    assert.equal(request.reason, reason);
    await assert.rejects(agents.asks.extendApproval(request.id, 60), { code: "forbidden" });
    const extended = await supervisor.extendApproval(request.id, 60);
    assert.equal(extended.id, request.id);
    assert.equal(extended.seconds, 60);
    assert.equal(extended.totalSeconds, 60);
    assert.equal(Date.parse(extended.deadline) - Date.parse(request.deadline) >= 59_000, true);
    const waiting = (await supervisor.approvals("asks")).find((r) => r.id === request.id);
    assert.equal(waiting?.deadline, extended.deadline);
    await assert.rejects(supervisor.extendApproval(request.id, 0), { code: "invalidParams" });
    await assert.rejects(supervisor.extendApproval(request.id, 3601), /from 1 to 3600/);
    await supervisor.resolveApproval(request.id, "once");
    const result = await within(10_000, pending);
    assert.equal(result.stdout, "later\n");

    const subscription = await supervisor.subscribe({ space: "asks", fromSeq: 1 });
    const events: SpaceEvent[] = [];
    for await (const event of subscription) {
      events.push(event);
      if (event.opId === result.id && event.type === "completed") break;
    }
    subscription.close();
    const mine = events.filter((event) => event.opId === result.id);
    assert.equal(mine.find((event): event is ReceivedEvent => event.type === "received")?.reason, reason);
    const more = mine.find((event): event is ApprovalExtendedEvent => event.type === "approvalExtended");
    assert.equal(more?.deadline, extended.deadline);
    assert.equal(more?.seconds, 60);
    assert.equal(more?.actor, "person");

    await assert.rejects(agents.work.space("work").message("hi", { reason: "x".repeat(501) }), (error: unknown) => {
      assert.ok(error instanceof RequestError);
      assert.equal(error.code, "invalidParams");
      assert.match(error.message, /"reason" is 501 characters long; it may have at most 500/);
      return true;
    });
  });

  test("a subscription receives the events, replayed and live", async () => {
    const subscription = await supervisor.subscribe({ space: "work", fromSeq: 1 });
    assert.deepEqual(subscription.spaces, ["work"]);
    const result = await agents.work.space("work").message("watch this");
    const events: SpaceEvent[] = [];
    for await (const event of subscription) {
      events.push(event);
      if (event.opId === result.id && event.type === "completed") break;
    }
    assert.equal(events[0].seq, 1, "replay starts at fromSeq");
    events.forEach((event, index) => assert.equal(event.seq, index + 1, "in order, no gap"));
    assert.ok(events.some((event) => event.type === "message" && event.text === "watch this"));

    const live = await agents.work.space("work").subscribe();
    const next = live[Symbol.asyncIterator]().next();
    await agents.work.space("work").message("live");
    assert.equal((await within(5_000, next)).value?.type, "received");
    live.close();
  });

  test("bad input gives a clear error", async () => {
    await assert.rejects(agent.submit("work", { kind: "bogus" } as never), (error: unknown) => {
      assert.ok(error instanceof RequestError);
      assert.equal(error.code, "invalidParams");
      assert.equal(error.rpcCode, -32602);
      assert.match(error.message, /unknown kind "bogus"/);
      return true;
    });
    await assert.rejects(agent.submit("work", { kind: "readFile" } as never), /readFile needs "path"/);
    await assert.rejects(agent.call("no.such"), { code: "methodNotFound" });
    await assert.rejects(agent.resolveApproval("op_x", "once"), { code: "forbidden" });
    await assert.rejects(agent.space("nowhere").readFile("a"), { code: "spaceNotFound" });
  });
});

describe("a lost connection", () => {
  test("fails pending calls and iterators promptly, and later calls at once", async () => {
    const server = await TestServer.start();
    try {
      const supervisor = await server.connect({ role: "supervisor" });
      await supervisor.createSpace("s", { policy: "permissive", backend: "host" });
      const agent = await server.connect({ space: "s" });
      const subscription = await supervisor.subscribe({ space: "s" });
      const iteration = drain(subscription);
      const running = agent.space("s").shell("sleep 5");
      const events = drain(running);
      const started = Date.now();
      await sleep(300);
      server.kill();
      await assert.rejects(within(3_000, running), ConnectionLostError);
      await assert.rejects(within(3_000, events), ConnectionLostError);
      await assert.rejects(within(3_000, iteration), ConnectionLostError);
      assert.ok(Date.now() - started < 4_000);
      await assert.rejects(within(1_000, agent.listSpaces()), ConnectionLostError);
      agent.close();
      supervisor.close();
    } finally {
      await server.stop();
    }
  });
});

async function waitForApproval(supervisor: SpacesClient, space: string) {
  for (;;) {
    const [request] = await supervisor.approvals(space);
    if (request) return request;
    await sleep(25);
  }
}

/** Reads an iterable to its end; the promise's failure is handled later, by the test. */
function drain(iterable: AsyncIterable<unknown>): Promise<void> {
  const done = (async () => {
    for await (const _ of iterable);
  })();
  done.catch(() => {});
  return done;
}
