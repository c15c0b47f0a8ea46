// The wire types of the `spaces serve` protocol (see the protocol section of the README), as TypeScript.

/** What a connection may do. */
export type Role = "agent" | "supervisor";
/** The policy presets. */
export type PolicyPreset = "restrictive" | "standard" | "permissive";
/** Where a space's commands run. */
export type Backend = "bubblewrap" | "container" | "host";
/** How file content is carried in JSON. */
export type ContentEncoding = "utf8" | "base64";
/** The six operation kinds. */
export type OpKind = "createFile" | "readFile" | "editFile" | "deleteFile" | "shell" | "message";
/** A policy verdict. */
export type Verdict = "allow" | "ask" | "deny";
/** How a supervisor answers an approval request. */
export type ApprovalChoice = "once" | "session" | "always" | "deny";
/** Who denied an operation. */
export type DecidedBy = "policy" | "person" | "timeout";
/** Who sent an operation. */
export type Actor = "agent" | "person";
/** The stable code of a failure: `error.data.code` of a -32000 error, `error.code` of a failed result. */
export type ErrorCode =
  | "pathOutsideWorkspace"
  | "invalidPath"
  | "notFound"
  | "isDirectory"
  | "notDirectory"
  | "editNoMatch"
  | "editAmbiguous"
  | "tooLarge"
  | "timeout"
  | "invalidRequest"
  | "invalidEncoding"
  | "invalidName"
  | "spaceExists"
  | "spaceNotFound"
  | "invalidConfig"
  | "backendUnavailable"
  | "limitExceeded"
  | "journalError"
  | "cancelled"
  | "approvalClosed"
  | "disconnected"
  | "undoRefused"
  | "ioError"
  | "busy";

/** One operation: an agent's instruction. */
export type Op =
  | { kind: "createFile"; path: string; content: string; encoding?: ContentEncoding }
  | { kind: "readFile"; path: string }
  | { kind: "editFile"; path: string; oldText: string; newText: string }
  | { kind: "deleteFile"; path: string; recursive?: boolean }
  | { kind: "shell"; command: string; timeoutMs?: number; fresh?: boolean }
  | { kind: "message"; text: string };

/** The answer to `hello`. */
export interface HelloResult {
  /** The server's version. */
  version: string;
  /** The protocol's version (1). */
  protocolVersion: number;
  /** The role this connection now has. */
  role: Role;
  /** The space an agent is bound to, if any. */
  space?: string;
}

/** Options of `space.create`. */
export interface SpaceOptions {
  /** The policy preset (default `standard`). */
  policy?: PolicyPreset;
  /** Where commands run (default `bubblewrap`). */
  backend?: Backend;
  /** An existing folder to use as the workspace. */
  workspace?: string;
  /** Whether commands may reach the network. */
  network?: boolean;
  /** The container image, for the container backend. */
  image?: string;
}

/** What a space's commands may reach. */
export interface Capabilities {
  network: boolean;
}

/** The limits of one shell command. */
export interface ShellLimits {
  timeoutMs: number;
  outputCapBytes: number;
  maxProcesses: number;
  memoryBytes: number;
  fileSizeBytes: number;
  cpuSeconds: number;
  cpus: number;
}

/** A space's limits. */
export interface SpaceLimits {
  maxFileSizeBytes: number;
  shell: ShellLimits;
  maxRunning: number;
}

/** What a space's change records keep. */
export interface UndoConfig {
  keepOperations: number;
  maxBytes: number;
  largeFileBytes: number;
  enabled: boolean;
}

/** A space's stored configuration. */
export interface SpaceConfig {
  name: string;
  /** When it was created (ISO 8601). */
  created: string;
  /** The absolute path of the workspace folder. */
  workspace: string;
  ownsWorkspace: boolean;
  policy: PolicyPreset;
  backend: Backend;
  image?: string;
  /** The container engine (`podman` or `docker`), for the container backend. */
  engine?: string;
  capabilities: Capabilities;
  limits: SpaceLimits;
  environment: Record<string, string>;
  undo: UndoConfig;
}

/** A policy's verdict with the reasons and the rules that matched. */
export interface Decision {
  decision: Verdict;
  reasons: string[];
  rules: string[];
}

/** A policy rule (what an `always` approval saves). */
export interface PolicyRule {
  name: string;
  /** The operation kinds it applies to; empty means every kind. */
  kinds: OpKind[];
  /** Path globs it applies to; empty means every path. */
  paths: string[];
  command?: string[] | null;
  decision: Verdict;
  reason: string;
}

/** How an operation ended. */
export type Status = "completed" | "failed" | "denied";

/** An error's stable code and sentence. */
export interface ErrorInfo {
  code: ErrorCode;
  message: string;
}

/**
 * How many UTF-8 bytes at the start of `stdout`/`stderr` the operation's `output` events (from
 * `fromSeq`) carry.
 */
export interface StreamedOutput {
  fromSeq: number;
  stdout: number;
  stderr: number;
}

/** What comes back for one operation. */
export interface OperationResult {
  /** The operation id (`op_…`). */
  id: string;
  space: string;
  kind: OpKind;
  status: Status;
  durationMs: number;
  /** readFile: the content, its encoding and size in bytes. Events carry no `content`. */
  content?: string;
  encoding?: ContentEncoding;
  size?: number;
  /** readFile: the SHA-256 of the bytes read, 64 lowercase hex digits. */
  sha256?: string;
  /** shell: how the command ended and what it printed. */
  exitCode?: number;
  signal?: number;
  stdout?: string;
  stderr?: string;
  truncated?: boolean;
  /**
   * shell, in events and in answers to clients that stream output: how many UTF-8 bytes at the
   * start of `stdout`/`stderr` the operation's `output` events (from `fromSeq`) carry; `stdout`
   * and `stderr` then hold only the rest. The SDK's own results are whole.
   */
  streamed?: StreamedOutput;
  /** shell: protected paths the command changed without approval, which were put back. */
  restored?: string[];
  /**
   * shell: the shell session's folder once the command ended, relative to the workspace (`.` is
   * its root): where the next command starts unless it asks for a fresh shell.
   */
  cwd?: string;
  /** failed: the stable code and a sentence. */
  error?: ErrorInfo;
  /** denied: why, and who decided. */
  reason?: string;
  decidedBy?: DecidedBy;
}

/** The result of a completed `readFile`. */
export interface ReadFileResult extends OperationResult {
  content: string;
  encoding: ContentEncoding;
  size: number;
  sha256: string;
}

/** The result of a completed `shell`: a non-zero exit is still a completed command. */
export interface ShellResult extends OperationResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** What happened, as the journal records it. */
export type EventType =
  | "received"
  | "decision"
  | "approvalRequested"
  | "approvalResolved"
  | "approvalExtended"
  | "queued"
  | "started"
  | "output"
  | "completed"
  | "failed"
  | "denied"
  | "message"
  | "protectedRestored"
  | "undone";

/** One protected path a command changed without a person's approval, and what the runtime did. */
export interface ProtectedChange {
  path: string;
  change: "created" | "modified" | "deleted";
  action: "removed" | "restored" | "failed";
  /** The protected kind of path, e.g. `git-hooks`, `env-files`. */
  rule: string;
  /** Why putting it back failed, when it did. */
  error?: string;
}

/** The fields every event has. */
export interface EventBase {
  /** Per space, from 1, only grows. */
  seq: number;
  /** ISO 8601, UTC. */
  time: string;
  space: string;
  opId: string;
}

/** An operation arrived (`reason`: the agent's own stated reason, if it gave one). */
export interface ReceivedEvent extends EventBase {
  type: "received";
  actor: Actor;
  op: Op;
  reason?: string;
}

/** The policy's verdict on the operation. */
export interface DecisionEvent extends EventBase {
  type: "decision";
  decision: Decision;
}

/** The operation waits for a person. */
export interface ApprovalRequestedEvent extends EventBase {
  type: "approvalRequested";
  decision: Decision;
}

/** A person (or the deadline) answered the approval request. */
export interface ApprovalResolvedEvent extends EventBase {
  type: "approvalResolved";
  /** once, session, always, deny, timeout, or cancelled (the agent went away). */
  resolution: "once" | "session" | "always" | "deny" | "timeout" | "cancelled";
  decidedBy?: DecidedBy;
  reason?: string;
}

/** A person gave the approval request more time. */
export interface ApprovalExtendedEvent extends EventBase {
  type: "approvalExtended";
  actor: Actor;
  /** The request's new deadline (ISO 8601). */
  deadline: string;
  /** The seconds added. */
  seconds: number;
  reason?: string;
}

/** The operation waits for a free slot (`reason` says why). */
export interface QueuedEvent extends EventBase {
  type: "queued";
  reason: string;
}

/** The operation started running. */
export interface StartedEvent extends EventBase {
  type: "started";
}

/** A chunk of a command's output. */
export interface OutputEvent extends EventBase {
  type: "output";
  stream: "stdout" | "stderr";
  data: string;
}

/** The operation completed, with its result and what it changed. */
export interface CompletedEvent extends EventBase {
  type: "completed";
  result: OperationResult;
  /** The operation's change record (`record` is its id) and what it changed. */
  changes?: ChangeSummary;
}

/** The operation failed (`actor`: who sent a command that was killed with the server). */
export interface FailedEvent extends EventBase {
  type: "failed";
  result: OperationResult;
  changes?: ChangeSummary;
  actor?: Actor;
}

/** The operation was denied. */
export interface DeniedEvent extends EventBase {
  type: "denied";
  result: OperationResult;
}

/** The agent's message to the person. */
export interface MessageEvent extends EventBase {
  type: "message";
  text: string;
}

/** Protected paths a command changed without approval were put back (before its completed or failed). */
export interface ProtectedRestoredEvent extends EventBase {
  type: "protectedRestored";
  restored: ProtectedChange[];
  reason: string;
}

/** A person's undo or restore took operations back. */
export interface UndoneEvent extends EventBase {
  type: "undone";
  actor: Actor;
  undo: UndoOutcome;
  changes: ChangeSummary;
}

/**
 * One journal record: the common fields and its kind's own, discriminated by `type`
 * (`if (event.type === "output") event.data` is a string).
 */
export type SpaceEvent =
  | ReceivedEvent
  | DecisionEvent
  | ApprovalRequestedEvent
  | ApprovalResolvedEvent
  | ApprovalExtendedEvent
  | QueuedEvent
  | StartedEvent
  | OutputEvent
  | CompletedEvent
  | FailedEvent
  | DeniedEvent
  | MessageEvent
  | ProtectedRestoredEvent
  | UndoneEvent;

/** What one operation changed in the workspace (`3 changed, 1 added, 2 deleted`). */
export interface ChangeSummary {
  /** The operation whose change record it is. */
  record: string;
  changed: number;
  added: number;
  deleted: number;
  /** Paths whose earlier content was not kept (larger than `undo.largeFileBytes`). */
  unrestorable?: number;
}

/** How one path was (or is): a file, folder or symlink. */
export interface EntryState {
  kind: "file" | "folder" | "symlink" | "other";
  mode: number;
  size?: number;
  sha256?: string;
  /** false: only the hash was kept, so it can't be put back. */
  stored?: boolean;
  target?: string;
}

/** One path an operation changed (`before` absent: created; `after` absent: deleted). */
export interface PathChange {
  path: string;
  before?: EntryState;
  after?: EntryState;
}

/** An operation's change record. */
export interface ChangeRecord {
  opId: string;
  order: number;
  time: string;
  actor: Actor;
  what: string;
  undid?: string[];
  changes: PathChange[];
}

/** `op.changes` for one operation: `recorded`, `none` or `gone` (dropped by retention). */
export interface ChangesAnswer {
  op: string;
  status: "recorded" | "none" | "gone";
  record?: ChangeRecord;
  diff?: string;
  message?: string;
}

/** One record of `op.changes` without `op`. */
export interface ChangesListItem {
  op: string;
  time: string;
  actor: Actor;
  what: string;
  changes: ChangeSummary;
  undid?: string[];
}

/** `op.changes` without `op`: the newest records. */
export interface ChangesList {
  records: ChangesListItem[];
  kept: number;
}

/** What `op.undo` and `space.restore` did. */
export interface UndoOutcome {
  action: "undo" | "restore";
  target: string;
  /** The undo's own operation id: undo it to take the undo back. */
  id: string;
  undid: string[];
  changes: ChangeSummary;
  recovered?: boolean;
}

/** An operation waiting for a person. */
export interface ApprovalRequest {
  /** The operation id (pass it to `resolveApproval`). */
  id: string;
  space: string;
  op: Op;
  /** Why the policy asks. */
  decision: Decision;
  requested: string;
  deadline: string;
  /** What an `always` answer would save. */
  suggestedRules: PolicyRule[];
  /** A shell command's folder (the shell session's), relative to the workspace, when not its root. */
  cwd?: string;
  /** The agent's own stated reason, as it sent it (untrusted: show it as the agent's words). */
  reason?: string;
}

/** The answer to `approval.extend`: the request's new deadline. */
export interface ApprovalExtension {
  id: string;
  /** The new deadline (ISO 8601). */
  deadline: string;
  /** The seconds this call added (less than asked when it reached the one-hour bound). */
  seconds: number;
  /** The seconds added to the first deadline so far, at most 3600. */
  totalSeconds: number;
}

/** The most characters an operation's `reason` may have. */
export const MAX_REASON_LENGTH = 500;

/** One entry of `file.list`. */
export interface WorkspaceEntry {
  name: string;
  path: string;
  kind: "file" | "directory" | "symlink" | "other";
  size: number;
  /** The modification time in unix seconds. */
  modified: number;
}

/** The params of `hello`. */
export interface HelloParams {
  role?: Role;
  token?: string;
  space?: string;
  client?: string;
}

/** A JSON-RPC request id. */
export type RequestId = number | string;

/** The params of `request.cancel`: the id of a running request of the same connection. */
export interface CancelParams {
  id: RequestId;
}

/** The params of `space.create`. */
export interface SpaceCreateParams extends SpaceOptions {
  name: string;
}

/** The params of `space.get` and `space.delete`. */
export interface SpaceNameParams {
  name: string;
}

/** The params of `op.submit` and `policy.check`. */
export interface SubmitParams {
  space: string;
  op: Op;
  /** Events of the operation as notifications with this request's id. */
  events?: boolean;
  /** The answer refers to the output events for what they carried (see `OperationResult.streamed`). */
  streamsOutput?: boolean;
  reason?: string;
}

/** The params of `events.subscribe`. */
export interface SubscribeParams {
  space?: string;
  fromSeq?: number;
}

/** The params of `events.unsubscribe`. */
export interface UnsubscribeParams {
  subscription: string;
}

/** The params of `approval.list`. */
export interface ApprovalListParams {
  space?: string;
}

/** The params of `approval.resolve`. */
export interface ApprovalResolveParams {
  id: string;
  decision: ApprovalChoice;
  feedback?: string;
  rules?: PolicyRule[];
}

/** The params of `approval.extend`. */
export interface ApprovalExtendParams {
  id: string;
  seconds?: number;
}

/** The params of `file.list`. */
export interface FileListParams {
  space: string;
  path?: string;
}

/** The params of `file.read`. */
export interface FileReadParams {
  space: string;
  path: string;
}

/** The params of `file.write`. */
export interface FileWriteParams {
  space: string;
  path: string;
  content: string;
  encoding?: ContentEncoding;
}

/** The params of `file.delete`. */
export interface FileDeleteParams {
  space: string;
  path: string;
  recursive?: boolean;
}

/** The params of `op.changes`: one operation's record (`op`), or the newest `limit` records. */
export interface ChangesParams {
  space: string;
  op?: string;
  diff?: boolean;
  limit?: number;
}

/** The params of `op.undo`. */
export interface UndoParams {
  space: string;
  op: string;
}

/** The params of `space.restore`. */
export interface RestoreParams {
  space: string;
  before: string;
}

/** The params of a method that takes none. */
export interface Empty {}

/** Each method's params: what the client sends (checked against the schema's `methods`). */
export interface MethodParams {
  hello: HelloParams;
  "request.cancel": CancelParams;
  "space.create": SpaceCreateParams;
  "space.list": Empty;
  "space.get": SpaceNameParams;
  "space.delete": SpaceNameParams;
  "op.submit": SubmitParams;
  "events.subscribe": SubscribeParams;
  "events.unsubscribe": UnsubscribeParams;
  "approval.list": ApprovalListParams;
  "approval.resolve": ApprovalResolveParams;
  "approval.extend": ApprovalExtendParams;
  "policy.check": SubmitParams;
  "file.list": FileListParams;
  "file.read": FileReadParams;
  "file.write": FileWriteParams;
  "file.delete": FileDeleteParams;
  "op.changes": ChangesParams;
  "op.undo": UndoParams;
  "space.restore": RestoreParams;
}

/** A method of the protocol. */
export type Method = keyof MethodParams;
