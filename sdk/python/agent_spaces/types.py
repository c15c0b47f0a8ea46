"""The wire types of the ``spaces serve`` protocol (see the protocol section of the README), as typed dictionaries."""

from __future__ import annotations

from typing import Literal, TypedDict, Union

Role = Literal["agent", "supervisor"]
PolicyPreset = Literal["restrictive", "standard", "permissive"]
Backend = Literal["bubblewrap", "container", "host"]
ContentEncoding = Literal["utf8", "base64"]
OpKind = Literal["createFile", "readFile", "editFile", "deleteFile", "shell", "message"]
Verdict = Literal["allow", "ask", "deny"]
ApprovalChoice = Literal["once", "session", "always", "deny"]
DecidedBy = Literal["policy", "person", "timeout"]
Status = Literal["completed", "failed", "denied"]
Actor = Literal["agent", "person"]
ErrorCode = Literal[
    "pathOutsideWorkspace", "invalidPath", "notFound", "isDirectory", "notDirectory", "editNoMatch", "editAmbiguous",
    "tooLarge", "timeout", "invalidRequest", "invalidEncoding", "invalidName", "spaceExists", "spaceNotFound",
    "invalidConfig", "backendUnavailable", "limitExceeded", "journalError", "cancelled", "approvalClosed",
    "disconnected", "undoRefused", "ioError", "busy",
]
"""The stable code of a failure: ``error.data.code`` of a -32000 error, ``error.code`` of a failed result."""
EventType = Literal[
    "received", "decision", "approvalRequested", "approvalResolved", "approvalExtended", "queued", "started",
    "output", "completed", "failed", "denied", "message", "protectedRestored", "undone",
]


class _CreateFileBase(TypedDict):
    kind: Literal["createFile"]
    path: str
    content: str


class CreateFileOp(_CreateFileBase, total=False):
    encoding: ContentEncoding


class ReadFileOp(TypedDict):
    kind: Literal["readFile"]
    path: str


class EditFileOp(TypedDict):
    kind: Literal["editFile"]
    path: str
    oldText: str
    newText: str


class _DeleteFileBase(TypedDict):
    kind: Literal["deleteFile"]
    path: str


class DeleteFileOp(_DeleteFileBase, total=False):
    recursive: bool


class _ShellBase(TypedDict):
    kind: Literal["shell"]
    command: str


class ShellOp(_ShellBase, total=False):
    timeoutMs: int
    fresh: bool


class MessageOp(TypedDict):
    kind: Literal["message"]
    text: str


Op = Union[CreateFileOp, ReadFileOp, EditFileOp, DeleteFileOp, ShellOp, MessageOp]
"""One of the six operations, e.g. ``{"kind": "readFile", "path": "a.txt"}``."""


class _HelloResultBase(TypedDict):
    version: str
    protocolVersion: int
    role: Role


class HelloResult(_HelloResultBase, total=False):
    """The answer to ``hello``."""

    space: str


class Capabilities(TypedDict):
    """What a space's commands may reach."""

    network: bool


class ShellLimits(TypedDict):
    """The limits of one shell command."""

    timeoutMs: int
    outputCapBytes: int
    maxProcesses: int
    memoryBytes: int
    fileSizeBytes: int
    cpuSeconds: int
    cpus: float


class SpaceLimits(TypedDict):
    """A space's limits."""

    maxFileSizeBytes: int
    shell: ShellLimits
    maxRunning: int


class UndoConfig(TypedDict):
    """What a space's change records keep."""

    keepOperations: int
    maxBytes: int
    largeFileBytes: int
    enabled: bool


class _SpaceConfigBase(TypedDict):
    name: str
    created: str
    workspace: str
    ownsWorkspace: bool
    policy: PolicyPreset
    backend: Backend
    capabilities: Capabilities
    limits: SpaceLimits
    environment: dict[str, str]
    undo: UndoConfig


class SpaceConfig(_SpaceConfigBase, total=False):
    """A space's stored configuration."""

    image: str
    engine: str


class Decision(TypedDict):
    """A policy's verdict with the reasons and the rules that matched."""

    decision: Verdict
    reasons: list[str]
    rules: list[str]


class ErrorInfo(TypedDict):
    """A failed operation's stable code and sentence."""

    code: ErrorCode
    message: str


class StreamedOutput(TypedDict):
    """How many UTF-8 bytes at the start of ``stdout``/``stderr`` the ``output`` events (from ``fromSeq``) carry."""

    fromSeq: int
    stdout: int
    stderr: int


class _OperationResultBase(TypedDict):
    id: str
    space: str
    kind: OpKind
    status: Status
    durationMs: int


class OperationResult(_OperationResultBase, total=False):
    """What comes back for one operation; the fields beyond the first five depend on kind and status."""

    # readFile (events carry no content: size and sha256 say what was read)
    content: str
    encoding: ContentEncoding
    size: int
    sha256: str
    # shell
    exitCode: int
    signal: int
    stdout: str
    stderr: str
    truncated: bool
    restored: list[str]
    cwd: str
    # shell, in events and in answers to clients that stream output: how many UTF-8 bytes at the
    # start of stdout/stderr the operation's output events (from fromSeq) carry; the SDK's own
    # results are whole.
    streamed: StreamedOutput
    # failed
    error: ErrorInfo
    # denied
    reason: str
    decidedBy: DecidedBy


class _ProtectedChangeBase(TypedDict):
    path: str
    change: Literal["created", "modified", "deleted"]
    action: Literal["removed", "restored", "failed"]
    rule: str


class ProtectedChange(_ProtectedChangeBase, total=False):
    """One protected path a command changed without approval, and what the runtime did."""

    error: str


class _ChangeSummaryBase(TypedDict):
    record: str
    changed: int
    added: int
    deleted: int


class ChangeSummary(_ChangeSummaryBase, total=False):
    """What one operation changed (``record`` is its id): ``3 changed, 1 added, 2 deleted``."""

    unrestorable: int


class _UndoOutcomeBase(TypedDict):
    action: Literal["undo", "restore"]
    target: str
    id: str
    undid: list[str]
    changes: ChangeSummary


class UndoOutcome(_UndoOutcomeBase, total=False):
    """What ``op.undo`` / ``space.restore`` did; ``id`` is the undo's own (undoable) operation."""

    recovered: bool


class _EntryStateBase(TypedDict):
    kind: Literal["file", "folder", "symlink", "other"]
    mode: int


class EntryState(_EntryStateBase, total=False):
    """How one path was (or is); ``stored`` false: only the hash was kept, so it can't be put back."""

    size: int
    sha256: str
    stored: bool
    target: str


class _PathChangeBase(TypedDict):
    path: str


class PathChange(_PathChangeBase, total=False):
    """One path an operation changed (``before`` absent: created; ``after`` absent: deleted)."""

    before: EntryState
    after: EntryState


class _ChangeRecordBase(TypedDict):
    opId: str
    order: int
    time: str
    actor: Actor
    what: str
    changes: list[PathChange]


class ChangeRecord(_ChangeRecordBase, total=False):
    """An operation's change record."""

    undid: list[str]


class _ChangesAnswerBase(TypedDict):
    op: str
    status: Literal["recorded", "none", "gone"]


class ChangesAnswer(_ChangesAnswerBase, total=False):
    """``op.changes`` for one operation: ``status`` is ``recorded``, ``none`` or ``gone``."""

    record: ChangeRecord
    diff: str
    message: str


class _ChangesListItemBase(TypedDict):
    op: str
    time: str
    actor: Actor
    what: str
    changes: ChangeSummary


class ChangesListItem(_ChangesListItemBase, total=False):
    """One record of ``op.changes`` without ``op``."""

    undid: list[str]


class ChangesList(TypedDict):
    """``op.changes`` without ``op``: the newest records, newest first, and how many are kept."""

    records: list[ChangesListItem]
    kept: int


class _EventBase(TypedDict):
    #: Per space, from 1, only grows.
    seq: int
    #: ISO 8601, UTC.
    time: str
    space: str
    opId: str


class _ReceivedBase(_EventBase):
    type: Literal["received"]
    actor: Actor
    op: Op


class ReceivedEvent(_ReceivedBase, total=False):
    """An operation arrived; ``reason`` is the agent's own stated reason, if it gave one."""

    reason: str


class DecisionEvent(_EventBase):
    """The policy's verdict on the operation."""

    type: Literal["decision"]
    decision: Decision


class ApprovalRequestedEvent(_EventBase):
    """The operation waits for a person."""

    type: Literal["approvalRequested"]
    decision: Decision


class _ApprovalResolvedBase(_EventBase):
    type: Literal["approvalResolved"]
    #: ``cancelled``: the agent went away.
    resolution: Literal["once", "session", "always", "deny", "timeout", "cancelled"]


class ApprovalResolvedEvent(_ApprovalResolvedBase, total=False):
    """A person (or the deadline) answered the approval request."""

    decidedBy: DecidedBy
    reason: str


class _ApprovalExtendedBase(_EventBase):
    type: Literal["approvalExtended"]
    actor: Actor
    #: The request's new deadline (ISO 8601) and the seconds added.
    deadline: str
    seconds: int


class ApprovalExtendedEvent(_ApprovalExtendedBase, total=False):
    """A person gave the approval request more time."""

    reason: str


class QueuedEvent(_EventBase):
    """The operation waits for a free slot; ``reason`` says why."""

    type: Literal["queued"]
    reason: str


class StartedEvent(_EventBase):
    """The operation started running."""

    type: Literal["started"]


class OutputEvent(_EventBase):
    """A chunk of a command's output."""

    type: Literal["output"]
    stream: Literal["stdout", "stderr"]
    data: str


class _CompletedBase(_EventBase):
    type: Literal["completed"]
    result: OperationResult


class CompletedEvent(_CompletedBase, total=False):
    """The operation completed: its result and its change record (``record`` is its id)."""

    changes: ChangeSummary


class _FailedBase(_EventBase):
    type: Literal["failed"]
    result: OperationResult


class FailedEvent(_FailedBase, total=False):
    """The operation failed; ``actor``: who sent a command that was killed with the server."""

    changes: ChangeSummary
    actor: Actor


class DeniedEvent(_EventBase):
    """The operation was denied."""

    type: Literal["denied"]
    result: OperationResult


class MessageEvent(_EventBase):
    """The agent's message to the person."""

    type: Literal["message"]
    text: str


class ProtectedRestoredEvent(_EventBase):
    """Protected paths a command changed without approval were put back (before its completed or failed)."""

    type: Literal["protectedRestored"]
    restored: list[ProtectedChange]
    reason: str


class UndoneEvent(_EventBase):
    """A person's undo or restore took operations back."""

    type: Literal["undone"]
    actor: Actor
    undo: UndoOutcome
    changes: ChangeSummary


SpaceEvent = Union[
    ReceivedEvent, DecisionEvent, ApprovalRequestedEvent, ApprovalResolvedEvent, ApprovalExtendedEvent, QueuedEvent,
    StartedEvent, OutputEvent, CompletedEvent, FailedEvent, DeniedEvent, MessageEvent, ProtectedRestoredEvent,
    UndoneEvent,
]
"""One journal record (a plain dict): the common fields and its kind's own, told apart by ``event["type"]``."""


class _PolicyRuleBase(TypedDict):
    name: str
    kinds: list[OpKind]
    paths: list[str]
    decision: Verdict
    reason: str


class PolicyRule(_PolicyRuleBase, total=False):
    """A policy rule (what an ``always`` approval saves)."""

    command: list[str] | None


class _ApprovalRequestBase(TypedDict):
    id: str
    space: str
    op: Op
    decision: Decision
    requested: str
    deadline: str
    suggestedRules: list[PolicyRule]


class ApprovalRequest(_ApprovalRequestBase, total=False):
    """An operation waiting for a person; pass its ``id`` to ``resolve_approval``.

    ``reason`` is the agent's own stated reason, as it sent it (untrusted: show it as the agent's words);
    ``cwd`` a shell command's folder (the shell session's), relative to the workspace, when not its root.
    """

    reason: str
    cwd: str


class ApprovalExtension(TypedDict):
    """The answer to ``approval.extend``: the request's new deadline, the seconds this call added
    (less than asked when it reached the one-hour bound) and those added so far (at most 3600)."""

    id: str
    deadline: str
    seconds: int
    totalSeconds: int


#: The most characters an operation's ``reason`` may have.
MAX_REASON_LENGTH = 500


class WorkspaceEntry(TypedDict):
    """One entry of ``file.list``; ``modified`` is in unix seconds."""

    name: str
    path: str
    kind: Literal["file", "directory", "symlink", "other"]
    size: int
    modified: float


RequestId = Union[int, str]
"""A JSON-RPC request id."""


class HelloParams(TypedDict, total=False):
    """The params of ``hello``."""

    role: Role
    token: str
    space: str
    client: str


class CancelParams(TypedDict):
    """The params of ``request.cancel``: the id of a running request of the same connection."""

    id: RequestId


class _SpaceCreateBase(TypedDict):
    name: str


class SpaceCreateParams(_SpaceCreateBase, total=False):
    """The params of ``space.create``."""

    policy: PolicyPreset
    backend: Backend
    workspace: str
    network: bool
    image: str


class SpaceNameParams(TypedDict):
    """The params of ``space.get`` and ``space.delete``."""

    name: str


class _SubmitBase(TypedDict):
    space: str
    op: Op


class SubmitParams(_SubmitBase, total=False):
    """The params of ``op.submit`` and ``policy.check``."""

    events: bool
    streamsOutput: bool
    reason: str


class SubscribeParams(TypedDict, total=False):
    """The params of ``events.subscribe``."""

    space: str
    fromSeq: int


class UnsubscribeParams(TypedDict):
    """The params of ``events.unsubscribe``."""

    subscription: str


class ApprovalListParams(TypedDict, total=False):
    """The params of ``approval.list``."""

    space: str


class _ApprovalResolveBase(TypedDict):
    id: str
    decision: ApprovalChoice


class ApprovalResolveParams(_ApprovalResolveBase, total=False):
    """The params of ``approval.resolve``."""

    feedback: str
    rules: list[PolicyRule]


class _ApprovalExtendBase(TypedDict):
    id: str


class ApprovalExtendParams(_ApprovalExtendBase, total=False):
    """The params of ``approval.extend``."""

    seconds: int


class _InSpace(TypedDict):
    space: str


class _SpacePath(_InSpace):
    path: str


class FileListParams(_InSpace, total=False):
    """The params of ``file.list``."""

    path: str


class FileReadParams(_SpacePath):
    """The params of ``file.read``."""


class _FileWriteBase(_SpacePath):
    content: str


class FileWriteParams(_FileWriteBase, total=False):
    """The params of ``file.write``."""

    encoding: ContentEncoding


class FileDeleteParams(_SpacePath, total=False):
    """The params of ``file.delete``."""

    recursive: bool


class ChangesParams(_InSpace, total=False):
    """The params of ``op.changes``: one operation's record (``op``), or the newest ``limit`` records."""

    op: str
    diff: bool
    limit: int


class UndoParams(_InSpace):
    """The params of ``op.undo``."""

    op: str


class RestoreParams(_InSpace):
    """The params of ``space.restore``."""

    before: str


class Empty(TypedDict):
    """The params of a method that takes none."""


METHOD_PARAMS: dict[str, type] = {
    "hello": HelloParams,
    "request.cancel": CancelParams,
    "space.create": SpaceCreateParams,
    "space.list": Empty,
    "space.get": SpaceNameParams,
    "space.delete": SpaceNameParams,
    "op.submit": SubmitParams,
    "events.subscribe": SubscribeParams,
    "events.unsubscribe": UnsubscribeParams,
    "approval.list": ApprovalListParams,
    "approval.resolve": ApprovalResolveParams,
    "approval.extend": ApprovalExtendParams,
    "policy.check": SubmitParams,
    "file.list": FileListParams,
    "file.read": FileReadParams,
    "file.write": FileWriteParams,
    "file.delete": FileDeleteParams,
    "op.changes": ChangesParams,
    "op.undo": UndoParams,
    "space.restore": RestoreParams,
}
"""Each method's params type: what the client sends (checked against the schema's ``methods``)."""
