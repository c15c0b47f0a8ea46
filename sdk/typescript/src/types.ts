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
  kinds?: OpKind[];
  paths?: string[];
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

/** One journal record; the fields after `type` depend on the type. */
export interface SpaceEvent {
  /** Per space, from 1, only grows. */
  seq: number;
  /** ISO 8601, UTC. */
  time: string;
  space: string;
  opId: string;
  type: EventType;
  actor?: Actor;
  op?: Op;
  decision?: Decision;
  /** approvalResolved: once, session, always, deny, timeout, or cancelled (the agent went away). */
  resolution?: string;
  /** received: the agent's own stated reason, if it gave one; other types: the runtime's why. */
  reason?: string;
  decidedBy?: DecidedBy;
  /** output: `stdout` or `stderr`, and the chunk. */
  stream?: "stdout" | "stderr";
  data?: string;
  /** message: the agent's text. */
  text?: string;
  /** completed, failed, denied: the result. */
  result?: OperationResult;
  /** protectedRestored: what was put back (before the command's completed or failed). */
  restored?: ProtectedChange[];
  /** approvalExtended: the request's new deadline (ISO 8601) and the seconds added. */
  deadline?: string;
  seconds?: number;
  /** completed, failed, undone: the operation's change record (`record` is its id) and what it changed. */
  changes?: ChangeSummary;
  /** undone: what a person's undo or restore took back. */
  undo?: UndoOutcome;
}

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
