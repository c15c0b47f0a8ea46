import { createConnection, type Socket } from "node:net";
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { ConnectionLostError, errorFromResult, errorFromRpc, type SpacesError } from "./errors.js";
import type {
  ChangesAnswer,
  ChangesList,
  UndoOutcome,
  ApprovalChoice,
  ApprovalExtension,
  ApprovalRequest,
  ContentEncoding,
  Decision,
  HelloParams,
  HelloResult,
  Method,
  MethodParams,
  Op,
  OperationResult,
  PolicyRule,
  ReadFileResult,
  Role,
  ShellResult,
  SpaceConfig,
  SpaceEvent,
  SpaceOptions,
  SubmitParams,
  SubscribeParams,
  WorkspaceEntry,
} from "./types.js";

/** How to reach the server and who to be. */
export interface ConnectOptions {
  /** The Unix socket (default `<home>/spaces.sock`). */
  path?: string;
  /** Loopback TCP instead of the socket (`spaces serve --listen`); needs the token. */
  host?: string;
  port?: number;
  /** The supervisor token (read from `<home>/supervisor.token` when needed and not given). */
  token?: string;
  /** `agent` (default) or `supervisor`. */
  role?: Role;
  /** Binds an agent to this one space. */
  space?: string;
  /** A name for the server's logs. */
  clientName?: string;
  /** The spaces home (default: see {@link defaultHome}). */
  home?: string;
}

/** The spaces home: `SPACES_HOME`, else `$XDG_DATA_HOME/agent-spaces`, else `~/.local/share/agent-spaces`. */
export function defaultHome(env: Record<string, string | undefined> = process.env): string {
  if (env.SPACES_HOME) return env.SPACES_HOME;
  if (env.XDG_DATA_HOME?.startsWith("/")) return join(env.XDG_DATA_HOME, "agent-spaces");
  return join(env.HOME || homedir(), ".local/share/agent-spaces");
}

/**
 * Connects to `spaces serve` and says `hello`. `address` is a socket path or `host:port`.
 *
 * ```ts
 * const client = await connect();                                   // $SPACES_HOME/spaces.sock
 * const supervisor = await connect({ role: "supervisor" });         // token from supervisor.token
 * const remote = await connect({ host: "127.0.0.1", port: 7777, token });
 * ```
 */
export async function connect(address: string | ConnectOptions = {}): Promise<SpacesClient> {
  const options = typeof address === "string" ? parseAddress(address) : address;
  const home = options.home ?? defaultHome();
  const tcp = options.host !== undefined || options.port !== undefined;
  const target = tcp
    ? { host: options.host ?? "127.0.0.1", port: options.port ?? 0 }
    : { path: options.path ?? join(home, "spaces.sock") };
  const where = "path" in target ? target.path : `${target.host}:${target.port}`;
  const socket = createConnection(target);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", (error) =>
      reject(new ConnectionLostError(`can't connect to the spaces server at ${where}: ${error.message}`)),
    );
  });
  const client = new SpacesClient(new Connection(socket));
  const needsToken = tcp || options.role === "supervisor";
  const token = options.token ?? (needsToken ? readFileSync(join(home, "supervisor.token"), "utf8").trim() : undefined);
  try {
    await client.hello({ role: options.role, token, space: options.space, client: options.clientName });
  } catch (error) {
    client.close();
    throw error;
  }
  return client;
}

function parseAddress(address: string): ConnectOptions {
  const colon = address.lastIndexOf(":");
  if (address.includes("/") || colon < 0) return { path: address };
  return { host: address.slice(0, colon).replace(/^\[(.*)\]$/, "$1"), port: Number(address.slice(colon + 1)) };
}

/** Options of every operation: your reason for it, and a callback for its events. */
export interface SubmitOptions {
  /**
   * Why you need this, in a sentence or two (at most 500 characters): journaled with the
   * operation and shown to the person who approves it, as your words.
   */
  reason?: string;
  /** Every event of the operation, as it happens. */
  onEvent?: (event: SpaceEvent) => void;
}

/** Options of `shell`. */
export interface ShellOptions extends SubmitOptions {
  /** Stops the command after this many milliseconds (then it fails with `timeout`). */
  timeoutMs?: number;
  /**
   * Starts the command in a fresh shell: the workspace root, no variables carried from earlier
   * commands (by default a command continues the space's shell session: the folder and the
   * exported variables the previous command left).
   */
  fresh?: boolean;
  /** Each chunk of standard output, as it arrives. */
  onStdout?: (data: string) => void;
  /** Each chunk of standard error, as it arrives. */
  onStderr?: (data: string) => void;
}

/**
 * A connection to `spaces serve`. Many calls may be in flight at once. When the connection
 * drops, every pending call rejects with {@link ConnectionLostError} and every iterator throws it.
 */
export class SpacesClient {
  /** What the last `hello` answered (role, versions). */
  info!: HelloResult;

  /** @internal */
  constructor(private readonly connection: Connection) {}

  /** Says who this connection is; send again to change role. */
  async hello(params: HelloParams = {}): Promise<HelloResult> {
    this.info = await this.send<HelloResult, "hello">("hello", params);
    return this.info;
  }

  /** Creates a space (policy `standard` and backend `bubblewrap` unless given). */
  createSpace(name: string, options: SpaceOptions = {}): Promise<SpaceConfig> {
    return this.send("space.create", { name, ...options });
  }

  /** Every space's configuration. */
  async listSpaces(): Promise<SpaceConfig[]> {
    return (await this.send<{ spaces: SpaceConfig[] }, "space.list">("space.list", {})).spaces;
  }

  /** One space's configuration; `OperationError` with code `spaceNotFound` if there is none. */
  getSpace(name: string): Promise<SpaceConfig> {
    return this.send("space.get", { name });
  }

  /** Deletes a space (supervisors only). */
  async deleteSpace(name: string): Promise<void> {
    await this.send("space.delete", { name });
  }

  /** A handle for running operations in a space (no request is made). */
  space(name: string): Space {
    return new Space(this, name);
  }

  /**
   * Submits one operation. The returned {@link Operation} is awaited for the result and
   * iterated for the events.
   */
  submit<R extends OperationResult = OperationResult>(space: string, op: Op, options: SubmitOptions = {}): Operation<R> {
    return new Operation<R>(this.connection, space, op, options.onEvent, options.reason);
  }

  /** What the space's policy says about an operation, without running it. */
  checkPolicy(space: string, op: Op): Promise<Decision> {
    return this.send("policy.check", { space, op });
  }

  /** The approval requests waiting (in one space, or every one this connection may see). */
  async approvals(space?: string): Promise<ApprovalRequest[]> {
    return (await this.send<{ approvals: ApprovalRequest[] }, "approval.list">("approval.list", { space })).approvals;
  }

  /**
   * Answers an approval request (supervisors only). With `deny`, `feedback` goes back to the
   * agent as the reason; with `always`, `rules` (default: the suggested ones) are saved.
   */
  async resolveApproval(
    id: string,
    decision: ApprovalChoice,
    options: { feedback?: string; rules?: PolicyRule[] } = {},
  ): Promise<void> {
    await this.send("approval.resolve", { id, decision, ...options });
  }

  /**
   * Gives an approval request more time (supervisors only): `seconds` (1 to 3600), or by default
   * the time it was first given. Over a request's life its deadline moves an hour at most.
   */
  extendApproval(id: string, seconds?: number): Promise<ApprovalExtension> {
    return this.send("approval.extend", seconds === undefined ? { id } : { id, seconds });
  }

  /**
   * Follows a space's journal (every space, for a supervisor, without `space`), replaying
   * from `fromSeq` (inclusive) when given. Iterate the subscription; `close()` it to stop.
   */
  async subscribe(options: SubscribeParams = {}): Promise<Subscription> {
    let subscription!: Subscription;
    // Registered as the answer is read, before the line with the first event.
    await this.connection.request("events.subscribe", options, {
      onAnswer: (result) => {
        const { subscription: id, spaces } = result as { subscription: string; spaces: string[] };
        subscription = new Subscription(this.connection, id, spaces);
      },
    });
    return subscription;
  }

  /** Lists a workspace folder (supervisors only). */
  async listFiles(space: string, path = ""): Promise<WorkspaceEntry[]> {
    return (await this.send<{ entries: WorkspaceEntry[] }, "file.list">("file.list", { space, path })).entries;
  }

  /** Reads a file as the person (supervisors only; not subject to the policy). */
  readFile(space: string, path: string): Promise<ReadFileResult> {
    return this.personEdit("file.read", { space, path });
  }

  /** Writes a file as the person (supervisors only; not subject to the policy). */
  writeFile(space: string, path: string, content: string, options: { encoding?: ContentEncoding } = {}): Promise<OperationResult> {
    return this.personEdit("file.write", { space, path, content, ...options });
  }

  /** Deletes a file as the person (supervisors only; not subject to the policy). */
  deleteFile(space: string, path: string, options: { recursive?: boolean } = {}): Promise<OperationResult> {
    return this.personEdit("file.delete", { space, path, ...options });
  }

  /** What an operation changed: its change record and a readable diff (`op.changes`). */
  changes(space: string, op: string, options: { diff?: boolean } = {}): Promise<ChangesAnswer> {
    return this.send("op.changes", { space, op, ...options });
  }

  /** The newest change records of a space, newest first (`op.changes` without `op`). */
  changeList(space: string, options: { limit?: number } = {}): Promise<ChangesList> {
    return this.send("op.changes", { space, ...options });
  }

  /** Undoes one operation as the person (`op.undo`, supervisors only); refused with code `undoRefused`. */
  undo(space: string, op: string): Promise<UndoOutcome> {
    return this.send("op.undo", { space, op });
  }

  /** Restores a workspace to before an operation (`space.restore`, supervisors only). */
  restore(space: string, before: string): Promise<UndoOutcome> {
    return this.send("space.restore", { space, before });
  }

  /** Calls any method; rejects with the error the JSON-RPC error stands for. */
  call<T = unknown>(method: string, params: object = {}): Promise<T> {
    return this.connection.request(method as Method, params as MethodParams[Method]) as Promise<T>;
  }

  /** Closes the connection (the server cancels this connection's running operations). */
  close(): void {
    this.connection.close();
  }

  /** Sends one of the protocol's methods with its declared params. */
  private send<T, M extends Method = Method>(method: M, params: MethodParams[M]): Promise<T> {
    return this.connection.request(method, params) as Promise<T>;
  }

  private async personEdit<R extends OperationResult, M extends "file.read" | "file.write" | "file.delete">(
    method: M,
    params: MethodParams[M],
  ): Promise<R> {
    const result = await this.send<R, M>(method, params);
    const error = errorFromResult(result);
    if (error) throw error;
    return result;
  }
}

/** One space: its six operations, each an {@link Operation} to await or iterate. */
export class Space {
  constructor(
    private readonly client: SpacesClient,
    /** The space's name. */
    readonly name: string,
  ) {}

  /** Creates or replaces a file (`encoding: "base64"` for bytes). */
  createFile(path: string, content: string, options: SubmitOptions & { encoding?: ContentEncoding } = {}): Operation<OperationResult> {
    const { encoding, ...rest } = options;
    return this.submit({ kind: "createFile", path, content, ...(encoding ? { encoding } : {}) }, rest);
  }

  /** Reads a whole file. */
  readFile(path: string, options: SubmitOptions = {}): Operation<ReadFileResult> {
    return this.submit({ kind: "readFile", path }, options);
  }

  /** Replaces the one occurrence of `oldText` with `newText` (`editNoMatch`, `editAmbiguous` otherwise). */
  editFile(path: string, oldText: string, newText: string, options: SubmitOptions = {}): Operation<OperationResult> {
    return this.submit({ kind: "editFile", path, oldText, newText }, options);
  }

  /** Deletes a file; a folder only with `recursive`. */
  deleteFile(path: string, options: SubmitOptions & { recursive?: boolean } = {}): Operation<OperationResult> {
    const { recursive, ...rest } = options;
    return this.submit({ kind: "deleteFile", path, ...(recursive ? { recursive } : {}) }, rest);
  }

  /**
   * Runs a command. A non-zero exit is a normal result (see `exitCode`); a timeout is an
   * {@link OperationError} with code `timeout`. Output streams to `onStdout` / `onStderr`.
   */
  shell(command: string, options: ShellOptions = {}): Operation<ShellResult> {
    const { timeoutMs, fresh, onStdout, onStderr, onEvent, reason } = options;
    const op: Op = { kind: "shell", command, ...(timeoutMs ? { timeoutMs } : {}), ...(fresh ? { fresh } : {}) };
    return this.submit<ShellResult>(op, {
      reason,
      onEvent: (event) => {
        if (event.type === "output") {
          (event.stream === "stderr" ? onStderr : onStdout)?.(event.data);
        }
        onEvent?.(event);
      },
    });
  }

  /** Sends a message to the person. */
  message(text: string, options: SubmitOptions = {}): Operation<OperationResult> {
    return this.submit({ kind: "message", text }, options);
  }

  /** Submits any operation to this space. */
  submit<R extends OperationResult = OperationResult>(op: Op, options: SubmitOptions = {}): Operation<R> {
    return this.client.submit<R>(this.name, op, options);
  }

  /** This space's configuration. */
  config(): Promise<SpaceConfig> {
    return this.client.getSpace(this.name);
  }

  /** What this space's policy says about an operation. */
  checkPolicy(op: Op): Promise<Decision> {
    return this.client.checkPolicy(this.name, op);
  }

  /** Follows this space's journal (see {@link SpacesClient.subscribe}). */
  subscribe(fromSeq?: number): Promise<Subscription> {
    return this.client.subscribe({ space: this.name, fromSeq });
  }
}

/**
 * The whole result from one that refers to its output events (`streamed`): each stream is the
 * first `streamed[stream]` UTF-8 bytes of the events' text, then the result's own text.
 */
function reassemble<R extends OperationResult>(result: R, output: { stdout: string[]; stderr: string[] }): R {
  const streamed = result.streamed;
  if (!streamed) return result;
  const whole: R = { ...result };
  delete whole.streamed;
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  for (const stream of ["stdout", "stderr"] as const) {
    const count = streamed[stream];
    if (count > 0) {
      const head = decoder.decode(encoder.encode(output[stream].join("")).subarray(0, count));
      whole[stream] = head + (result[stream] ?? "");
    }
  }
  return whole;
}

/**
 * A submitted operation. `await` it for the result: a `completed` result resolves, a `denied`
 * one rejects with {@link DeniedError}, a `failed` one with {@link OperationError}. Iterate it
 * (`for await`) for its events; the iteration ends with the operation (throwing only when the
 * call itself fails, e.g. {@link ConnectionLostError}).
 */
export class Operation<R extends OperationResult = OperationResult> implements PromiseLike<R>, AsyncIterable<SpaceEvent> {
  private readonly events = new EventQueue<SpaceEvent>();
  private readonly promise: Promise<R>;
  private readonly connection: Connection;
  private requestId?: number;

  /** @internal */
  constructor(connection: Connection, space: string, op: Op, onEvent?: (event: SpaceEvent) => void, reason?: string) {
    this.connection = connection;
    // Output once: the answer refers to the output events for what they carry
    // (`streamsOutput`); their text is kept here to put stdout and stderr back together.
    const output = { stdout: [] as string[], stderr: [] as string[] };
    const params: SubmitParams =
      reason === undefined ? { space, op, streamsOutput: true } : { space, op, streamsOutput: true, reason };
    const request = connection.request("op.submit", params, {
      onEvent: (event) => {
        if (event.type === "output") output[event.stream === "stderr" ? "stderr" : "stdout"].push(event.data);
        this.events.push(event);
        onEvent?.(event);
      },
      onSent: (id) => {
        this.requestId = id;
      },
    });
    this.promise = request.then(
      (answer) => {
        this.events.end();
        const result = reassemble(answer as R, output);
        const error = errorFromResult(result);
        if (error) throw error;
        return result;
      },
      (error: SpacesError) => {
        this.events.end(error);
        throw error;
      },
    );
    this.promise.catch(() => {}); // Unobserved failures are not unhandled rejections.
  }

  then<T1 = R, T2 = never>(
    onfulfilled?: ((value: R) => T1 | PromiseLike<T1>) | null,
    onrejected?: ((reason: any) => T2 | PromiseLike<T2>) | null,
  ): Promise<T1 | T2> {
    return this.promise.then(onfulfilled, onrejected);
  }

  catch<T = never>(onrejected?: ((reason: any) => T | PromiseLike<T>) | null): Promise<R | T> {
    return this.promise.catch(onrejected);
  }

  /** The operation's events, from the first (all are kept until read). */
  [Symbol.asyncIterator](): AsyncIterator<SpaceEvent> {
    return this.events;
  }

  /**
   * Stops the operation (`request.cancel`): a running command is killed with everything it
   * started, an approval wait ends. Awaiting it then rejects with {@link OperationError} code
   * `cancelled` (or gives the result, if it ended first).
   */
  cancel(): void {
    if (this.requestId !== undefined) this.connection.notify("request.cancel", { id: this.requestId });
  }
}

/** A live journal subscription: iterate it for events; `close()` to stop. */
export class Subscription implements AsyncIterable<SpaceEvent> {
  private readonly events: EventQueue<SpaceEvent>;

  /** @internal */
  constructor(
    connection: Connection,
    /** The subscription's id. */
    readonly id: string,
    /** The spaces it follows. */
    readonly spaces: string[],
  ) {
    this.events = connection.openStream(id, () => {
      if (!connection.lost) connection.request("events.unsubscribe", { subscription: id }).catch(() => {});
    });
  }

  /** Ends the subscription (unsubscribes) and its iteration; so does leaving a `for await` loop. */
  close(): void {
    this.events.end();
  }

  /** The events, in `seq` order; throws {@link ConnectionLostError} if the connection drops. */
  [Symbol.asyncIterator](): AsyncIterator<SpaceEvent> {
    return this.events;
  }
}

interface Pending {
  resolve(result: unknown): void;
  reject(error: SpacesError): void;
  onEvent?: (event: SpaceEvent) => void;
  onAnswer?: (result: unknown) => void;
  /** Told the request's id as it is sent. */
  onSent?: (id: number) => void;
}

/** One socket: writes requests, routes answers by id and events by request id or subscription. */
class Connection {
  lost?: ConnectionLostError;
  private buffer = "";
  private nextId = 0;
  private closing = false;
  private readonly pending = new Map<number, Pending>();
  private readonly streams = new Map<string, EventQueue<SpaceEvent>>();

  constructor(private readonly socket: Socket) {
    let reason = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk) => this.receive(chunk));
    socket.on("error", (error) => (reason = `: ${error.message}`));
    socket.on("close", () =>
      this.fail(
        new ConnectionLostError(
          this.closing ? "the connection was closed" : `the connection to the spaces server was lost${reason}`,
        ),
      ),
    );
  }

  request<M extends Method>(
    method: M,
    params: MethodParams[M],
    hooks: Omit<Pending, "resolve" | "reject"> = {},
  ): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.lost) return reject(this.lost);
      const id = ++this.nextId;
      this.pending.set(id, { resolve, reject, ...hooks });
      this.socket.write(JSON.stringify({ jsonrpc: "2.0", id, method, params }) + "\n");
      hooks.onSent?.(id);
    });
  }

  /** Sends a notification (no answer comes). */
  notify<M extends Method>(method: M, params: MethodParams[M]): void {
    if (!this.lost) this.socket.write(JSON.stringify({ jsonrpc: "2.0", method, params }) + "\n");
  }

  openStream(id: string, onEnd: () => void): EventQueue<SpaceEvent> {
    const queue = new EventQueue<SpaceEvent>(() => {
      this.streams.delete(id);
      onEnd();
    });
    if (this.lost) queue.end(this.lost);
    else this.streams.set(id, queue);
    return queue;
  }

  close(): void {
    this.closing = true;
    this.socket.end();
    this.socket.destroy();
  }

  private receive(chunk: string): void {
    this.buffer += chunk;
    let newline: number;
    while ((newline = this.buffer.indexOf("\n")) >= 0) {
      const line = this.buffer.slice(0, newline).replace(/\r$/, "");
      this.buffer = this.buffer.slice(newline + 1);
      if (line) this.dispatch(line);
    }
  }

  private dispatch(line: string): void {
    let message: any;
    try {
      message = JSON.parse(line);
    } catch {
      return; // Not ours to answer: the server only sends JSON.
    }
    if (message.method === "disconnected") {
      const reason = typeof message.params?.reason === "string" ? message.params.reason : "no reason given";
      this.fail(new ConnectionLostError(`the spaces server closed the connection: ${reason}`));
      return;
    }
    if (message.method === "event") {
      const { event, subscription, requestId } = message.params ?? {};
      if (typeof subscription === "string") this.streams.get(subscription)?.push(event);
      else if (typeof requestId === "number") guard(() => this.pending.get(requestId)?.onEvent?.(event));
      return;
    }
    const entry = typeof message.id === "number" ? this.pending.get(message.id) : undefined;
    if (!entry) return;
    this.pending.delete(message.id);
    if (message.error) return entry.reject(errorFromRpc(message.error));
    entry.onAnswer?.(message.result);
    entry.resolve(message.result);
  }

  private fail(error: ConnectionLostError): void {
    if (this.lost) return;
    this.lost = error;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const entry of pending) entry.reject(error);
    for (const stream of [...this.streams.values()]) stream.end(this.closing ? undefined : error);
  }
}

/** Runs a user callback; what it throws is reported as an uncaught error, not in the reader. */
function guard(callback: () => void): void {
  try {
    callback();
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}

/** An unbounded queue read as an async iterator: `push` items, then `end` (with an error or not). */
class EventQueue<T> implements AsyncIterator<T> {
  private readonly items: T[] = [];
  private readonly waiters: { resolve(result: IteratorResult<T>): void; reject(error: Error): void }[] = [];
  private done = false;
  private error?: Error;

  constructor(private readonly onEnd?: () => void) {}

  push(item: T): void {
    if (this.done) return;
    const waiter = this.waiters.shift();
    if (waiter) waiter.resolve({ value: item, done: false });
    else this.items.push(item);
  }

  end(error?: Error): void {
    if (this.done) return;
    this.done = true;
    this.error = error;
    this.onEnd?.();
    for (const waiter of this.waiters.splice(0)) this.settle(waiter);
  }

  next(): Promise<IteratorResult<T>> {
    if (this.items.length > 0) return Promise.resolve({ value: this.items.shift() as T, done: false });
    return new Promise((resolve, reject) => {
      if (this.done) this.settle({ resolve, reject });
      else this.waiters.push({ resolve, reject });
    });
  }

  async return(): Promise<IteratorResult<T>> {
    this.items.length = 0;
    this.end();
    return { value: undefined, done: true };
  }

  private settle(waiter: { resolve(result: IteratorResult<T>): void; reject(error: Error): void }): void {
    const error = this.error;
    this.error = undefined; // Thrown once; afterwards the iterator is simply done.
    if (error) waiter.reject(error);
    else waiter.resolve({ value: undefined, done: true });
  }
}
