"""An asyncio client for ``spaces serve``: one connection, many calls in flight."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Mapping
from typing import Any, Generic, TypeVar, cast

from .errors import ConnectionLostError, SpacesError, error_from_result, error_from_rpc
from .types import (
    ChangesAnswer,
    UndoOutcome,
    ApprovalChoice,
    ApprovalExtension,
    ApprovalExtendParams,
    ApprovalListParams,
    ApprovalRequest,
    ApprovalResolveParams,
    Backend,
    CancelParams,
    ChangesParams,
    ContentEncoding,
    Decision,
    Empty,
    FileDeleteParams,
    FileListParams,
    FileReadParams,
    FileWriteParams,
    HelloParams,
    HelloResult,
    Op,
    OperationResult,
    PolicyPreset,
    PolicyRule,
    RestoreParams,
    Role,
    SpaceConfig,
    SpaceCreateParams,
    SpaceEvent,
    SpaceNameParams,
    SubmitParams,
    SubscribeParams,
    UndoParams,
    UnsubscribeParams,
    WorkspaceEntry,
)

EventHandler = Callable[[SpaceEvent], None]
"""Receives an operation's events as they happen."""

R = TypeVar("R", bound=Mapping[str, Any])
P = TypeVar("P", bound=Mapping[str, Any])


def default_home(env: Mapping[str, str] | None = None) -> str:
    """The spaces home: ``SPACES_HOME``, else ``$XDG_DATA_HOME/agent-spaces``, else ``~/.local/share/agent-spaces``."""
    env = os.environ if env is None else env
    if env.get("SPACES_HOME"):
        return env["SPACES_HOME"]
    if env.get("XDG_DATA_HOME", "").startswith("/"):
        return os.path.join(env["XDG_DATA_HOME"], "agent-spaces")
    return os.path.join(env.get("HOME") or os.path.expanduser("~"), ".local/share/agent-spaces")


def connect(
    address: str | None = None,
    *,
    path: str | None = None,
    host: str | None = None,
    port: int | None = None,
    token: str | None = None,
    role: Role = "agent",
    space: str | None = None,
    client_name: str | None = None,
    home: str | None = None,
) -> _Connecting:
    """Connects to ``spaces serve`` and says ``hello``.

    ``address`` is a socket path or ``host:port`` (default ``<home>/spaces.sock``). A supervisor,
    or any TCP connection, without a ``token`` reads it from ``<home>/supervisor.token``.
    Await the result, or use it in ``async with`` to close the client at the end::

        client = await connect()
        async with connect(role="supervisor") as supervisor: ...
    """
    if address is not None:
        head, _, tail = address.rpartition(":")
        if "/" in address or not head:
            path = address
        else:
            host, port = head.strip("[]"), int(tail)
    home = home or default_home()
    return _Connecting(_connect(path, host, port, token, role, space, client_name, home))


async def _connect(
    path: str | None, host: str | None, port: int | None, token: str | None, role: Role,
    space: str | None, client_name: str | None, home: str,
) -> SpacesClient:
    tcp = host is not None or port is not None
    where = f"{host}:{port}" if tcp else (path or os.path.join(home, "spaces.sock"))
    try:
        if tcp:
            reader, writer = await asyncio.open_connection(host or "127.0.0.1", port, limit=_LINE_LIMIT)
        else:
            reader, writer = await asyncio.open_unix_connection(where, limit=_LINE_LIMIT)
    except OSError as error:
        raise ConnectionLostError(f"can't connect to the spaces server at {where}: {error}") from error
    client = SpacesClient(_Connection(reader, writer))
    if token is None and (tcp or role == "supervisor"):
        with open(os.path.join(home, "supervisor.token")) as file:
            token = file.read().strip()
    try:
        await client.hello(role=role, token=token, space=space, client=client_name)
    except BaseException:
        await client.close()
        raise
    return client


class _Connecting:
    """What ``connect`` returns: await it, or enter it with ``async with``."""

    def __init__(self, coroutine: Awaitable[SpacesClient]) -> None:
        self._coroutine = coroutine
        self._client: SpacesClient | None = None

    def __await__(self) -> Generator[Any, None, SpacesClient]:
        return self._coroutine.__await__()

    async def __aenter__(self) -> SpacesClient:
        self._client = await self._coroutine
        return self._client

    async def __aexit__(self, *exc_info: object) -> None:
        if self._client:
            await self._client.close()


class SpacesClient:
    """A connection to ``spaces serve``.

    When the connection drops, every pending call raises :class:`ConnectionLostError`, and so
    does every iterator.
    """

    def __init__(self, connection: _Connection) -> None:
        self._connection = connection
        #: What the last ``hello`` answered (role, versions).
        self.info: HelloResult = {}

    async def __aenter__(self) -> SpacesClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def hello(
        self, role: Role | None = None, token: str | None = None, space: str | None = None,
        client: str | None = None,
    ) -> HelloResult:
        """Says who this connection is; send again to change role."""
        params = _params(HelloParams, role=role, token=token, space=space, client=client)
        self.info = await self.call("hello", params)
        return self.info

    async def create_space(
        self, name: str, *, policy: PolicyPreset | None = None, backend: Backend | None = None,
        workspace: str | None = None, network: bool | None = None, image: str | None = None,
    ) -> SpaceConfig:
        """Creates a space (policy ``standard`` and backend ``bubblewrap`` unless given)."""
        params = _params(
            SpaceCreateParams, name=name, policy=policy, backend=backend, workspace=workspace, network=network, image=image)
        return await self.call("space.create", params)

    async def list_spaces(self) -> list[SpaceConfig]:
        """Every space's configuration."""
        return (await self.call("space.list", Empty()))["spaces"]

    async def get_space(self, name: str) -> SpaceConfig:
        """One space's configuration; ``OperationError`` with code ``spaceNotFound`` if there is none."""
        return await self.call("space.get", SpaceNameParams(name=name))

    async def delete_space(self, name: str) -> None:
        """Deletes a space (supervisors only)."""
        await self.call("space.delete", SpaceNameParams(name=name))

    def space(self, name: str) -> Space:
        """A handle for running operations in a space (no request is made)."""
        return Space(self, name)

    def submit(
        self, space: str, op: Op, *, reason: str | None = None, on_event: EventHandler | None = None,
    ) -> Operation[OperationResult]:
        """Submits one operation: await the :class:`Operation` for the result, iterate it for events.

        ``reason`` says why you need it, in a sentence or two (at most 500 characters): it is
        journaled with the operation and shown to the person who approves it, as your words.
        """
        return Operation(self._connection, space, op, on_event, reason)

    async def check_policy(self, space: str, op: Op) -> Decision:
        """What the space's policy says about an operation, without running it."""
        return await self.call("policy.check", SubmitParams(space=space, op=op))

    async def approvals(self, space: str | None = None) -> list[ApprovalRequest]:
        """The approval requests waiting (in one space, or every one this connection may see)."""
        return (await self.call("approval.list", _params(ApprovalListParams, space=space)))["approvals"]

    async def resolve_approval(
        self, id: str, decision: ApprovalChoice, *, feedback: str | None = None,
        rules: list[PolicyRule] | None = None,
    ) -> None:
        """Answers an approval request (supervisors only).

        With ``deny``, ``feedback`` goes back to the agent as the reason; with ``always``,
        ``rules`` (default: the suggested ones) are saved to the space's policy.
        """
        await self.call(
            "approval.resolve",
            _params(ApprovalResolveParams, id=id, decision=decision, feedback=feedback, rules=rules))

    async def extend_approval(self, id: str, seconds: int | None = None) -> ApprovalExtension:
        """Gives an approval request more time (supervisors only).

        ``seconds`` (1 to 3600), or by default the time it was first given. Over a request's life
        its deadline moves an hour at most.
        """
        return await self.call("approval.extend", _params(ApprovalExtendParams, id=id, seconds=seconds))

    async def subscribe(self, space: str | None = None, from_seq: int | None = None) -> Subscription:
        """Follows a space's journal (every space, for a supervisor, without ``space``).

        With ``from_seq`` it first replays the events from that ``seq`` on. Iterate the
        subscription with ``async for``; ``close()`` it to stop.
        """
        created: list[Subscription] = []

        def on_answer(result: Any) -> None:  # Registered before the line with the first event.
            created.append(Subscription(self._connection, result["subscription"], result["spaces"]))

        await self._connection.request(
            "events.subscribe", _params(SubscribeParams, space=space, fromSeq=from_seq), on_answer=on_answer)
        return created[0]

    async def list_files(self, space: str, path: str = "") -> list[WorkspaceEntry]:
        """Lists a workspace folder (supervisors only)."""
        return (await self.call("file.list", FileListParams(space=space, path=path)))["entries"]

    async def read_file(self, space: str, path: str) -> OperationResult:
        """Reads a file as the person (supervisors only; not subject to the policy)."""
        return _checked(await self.call("file.read", FileReadParams(space=space, path=path)))

    async def write_file(
        self, space: str, path: str, content: str, *, encoding: ContentEncoding | None = None,
    ) -> OperationResult:
        """Writes a file as the person (supervisors only; not subject to the policy)."""
        params = _params(FileWriteParams, space=space, path=path, content=content, encoding=encoding)
        return _checked(await self.call("file.write", params))

    async def delete_file(self, space: str, path: str, *, recursive: bool = False) -> OperationResult:
        """Deletes a file as the person (supervisors only; not subject to the policy)."""
        return _checked(await self.call(
            "file.delete", FileDeleteParams(space=space, path=path, recursive=recursive)))

    async def changes(self, space: str, op: str, *, diff: bool = True) -> ChangesAnswer:
        """What an operation changed: its change record and a readable diff (``op.changes``)."""
        return cast(ChangesAnswer, await self.call("op.changes", ChangesParams(space=space, op=op, diff=diff)))

    async def change_list(self, space: str, *, limit: int = 50) -> dict[str, Any]:
        """The newest change records of a space, newest first (``op.changes`` without ``op``)."""
        return cast(dict[str, Any], await self.call("op.changes", ChangesParams(space=space, limit=limit)))

    async def undo(self, space: str, op: str) -> UndoOutcome:
        """Undoes one operation as the person (``op.undo``, supervisors only)."""
        return cast(UndoOutcome, await self.call("op.undo", UndoParams(space=space, op=op)))

    async def restore(self, space: str, before: str) -> UndoOutcome:
        """Restores a workspace to before an operation (``space.restore``, supervisors only)."""
        return cast(UndoOutcome, await self.call("space.restore", RestoreParams(space=space, before=before)))

    async def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        """Calls any method; raises the error a JSON-RPC error stands for."""
        return await self._connection.request(method, params or {})

    async def close(self) -> None:
        """Closes the connection (the server cancels this connection's running operations)."""
        await self._connection.close()


class Space:
    """One space: its six operations, each an :class:`Operation` to await or iterate."""

    def __init__(self, client: SpacesClient, name: str) -> None:
        self._client = client
        #: The space's name.
        self.name = name

    def create_file(
        self, path: str, content: str, *, encoding: ContentEncoding | None = None, reason: str | None = None,
        on_event: EventHandler | None = None,
    ) -> Operation[OperationResult]:
        """Creates or replaces a file (``encoding="base64"`` for bytes)."""
        op: dict[str, Any] = {"kind": "createFile", "path": path, "content": content}
        if encoding:
            op["encoding"] = encoding
        return self.submit(cast(Op, op), reason=reason, on_event=on_event)

    def read_file(
        self, path: str, *, reason: str | None = None, on_event: EventHandler | None = None,
    ) -> Operation[OperationResult]:
        """Reads a whole file: the result has ``content``, ``encoding`` and ``size``."""
        return self.submit({"kind": "readFile", "path": path}, reason=reason, on_event=on_event)

    def edit_file(
        self, path: str, old_text: str, new_text: str, *, reason: str | None = None,
        on_event: EventHandler | None = None,
    ) -> Operation[OperationResult]:
        """Replaces the one occurrence of ``old_text`` (``editNoMatch`` / ``editAmbiguous`` otherwise)."""
        return self.submit(
            {"kind": "editFile", "path": path, "oldText": old_text, "newText": new_text}, reason=reason,
            on_event=on_event)

    def delete_file(
        self, path: str, *, recursive: bool = False, reason: str | None = None, on_event: EventHandler | None = None,
    ) -> Operation[OperationResult]:
        """Deletes a file; a folder only with ``recursive``."""
        op: dict[str, Any] = {"kind": "deleteFile", "path": path}
        if recursive:
            op["recursive"] = True
        return self.submit(cast(Op, op), reason=reason, on_event=on_event)

    def shell(
        self, command: str, *, timeout_ms: int | None = None, fresh: bool = False, reason: str | None = None,
        on_stdout: Callable[[str], None] | None = None, on_stderr: Callable[[str], None] | None = None,
        on_event: EventHandler | None = None,
    ) -> Operation[OperationResult]:
        """Runs a command; output streams to ``on_stdout`` / ``on_stderr`` as it arrives.

        A non-zero exit is a normal result (see ``exitCode``); a timeout raises
        :class:`OperationError` with code ``timeout``. The command continues the space's shell
        session (the folder and exported variables the previous command left; ``cwd`` in the
        result says where it ended); ``fresh=True`` starts it in the workspace root with none.
        """
        op: dict[str, Any] = {"kind": "shell", "command": command}
        if timeout_ms:
            op["timeoutMs"] = timeout_ms
        if fresh:
            op["fresh"] = True

        def handle(event: SpaceEvent) -> None:
            if event.get("type") == "output" and "data" in event:
                callback = on_stderr if event.get("stream") == "stderr" else on_stdout
                if callback:
                    callback(event["data"])
            if on_event:
                on_event(event)

        return self.submit(cast(Op, op), reason=reason, on_event=handle)

    def message(
        self, text: str, *, reason: str | None = None, on_event: EventHandler | None = None,
    ) -> Operation[OperationResult]:
        """Sends a message to the person."""
        return self.submit({"kind": "message", "text": text}, reason=reason, on_event=on_event)

    def submit(
        self, op: Op, *, reason: str | None = None, on_event: EventHandler | None = None,
    ) -> Operation[OperationResult]:
        """Submits any operation to this space; ``reason`` says why you need it (see
        :meth:`SpacesClient.submit`)."""
        return self._client.submit(self.name, op, reason=reason, on_event=on_event)

    async def config(self) -> SpaceConfig:
        """This space's configuration."""
        return await self._client.get_space(self.name)

    async def check_policy(self, op: Op) -> Decision:
        """What this space's policy says about an operation."""
        return await self._client.check_policy(self.name, op)

    async def subscribe(self, from_seq: int | None = None) -> Subscription:
        """Follows this space's journal (see :meth:`SpacesClient.subscribe`)."""
        return await self._client.subscribe(self.name, from_seq)


def reassemble(result: Any, output: dict[str, list[str]]) -> Any:
    """The whole result from one that refers to its output events (``streamed``): each stream is
    the first ``streamed[stream]`` UTF-8 bytes of the events' text, then the result's own text."""
    streamed = result.get("streamed") if isinstance(result, dict) else None
    if not streamed:
        return result
    whole = dict(result)
    del whole["streamed"]
    for stream in ("stdout", "stderr"):
        count = streamed.get(stream, 0)
        if count:
            head = "".join(output[stream]).encode("utf-8")[:count].decode("utf-8", errors="replace")
            whole[stream] = head + (result.get(stream) or "")
    return whole


class Operation(Generic[R]):
    """A submitted operation (sent at once, whether awaited or not).

    ``await`` it for the result: a ``completed`` result is returned, a ``denied`` one raises
    :class:`DeniedError`, a ``failed`` one :class:`OperationError`. ``async for`` over it gives
    its events; the iteration ends with the operation, raising only when the call itself fails
    (e.g. :class:`ConnectionLostError`). Events are kept until read.
    """

    def __init__(
        self, connection: _Connection, space: str, op: Op, on_event: EventHandler | None, reason: str | None = None,
    ) -> None:
        self._events = _EventStream()

        # Output once: the answer refers to the output events for what they carry
        # (``streamsOutput``); their text is kept here to put stdout and stderr back together.
        self._output: dict[str, list[str]] = {"stdout": [], "stderr": []}

        def handle(event: SpaceEvent) -> None:
            if event.get("type") == "output":
                self._output["stderr" if event.get("stream") == "stderr" else "stdout"].append(event.get("data") or "")
            self._events.push(event)
            if on_event:
                on_event(event)

        self._connection = connection
        params = _params(SubmitParams, space=space, op=op, streamsOutput=True, reason=reason)
        self._id, self._future = connection.send("op.submit", params, on_event=handle)
        self._future.add_done_callback(self._finish)

    def cancel(self) -> None:
        """Stops the operation (``request.cancel``): a running command is killed with everything
        it started, an approval wait ends. Awaiting it then raises :class:`OperationError` with
        code ``cancelled`` (or gives the result, if it ended first)."""
        if self._id is not None and not self._future.done():
            self._connection.notify("request.cancel", CancelParams(id=self._id))

    def _finish(self, future: asyncio.Future[Any]) -> None:
        error = None if future.cancelled() else future.exception()
        self._events.end(error)

    async def _result(self) -> R:
        result = reassemble(await asyncio.shield(self._future), self._output)
        error = error_from_result(result)
        if error:
            raise error
        return cast(R, result)

    def __await__(self) -> Generator[Any, None, R]:
        return self._result().__await__()

    def __aiter__(self) -> AsyncIterator[SpaceEvent]:
        return self._events


class Subscription:
    """A live journal subscription: ``async for`` over it for events, in ``seq`` order; ``close()`` to stop."""

    def __init__(self, connection: _Connection, id: str, spaces: list[str]) -> None:
        self._connection = connection
        #: The subscription's id.
        self.id = id
        #: The spaces it follows.
        self.spaces = spaces
        self._events = connection.open_stream(id)

    async def close(self) -> None:
        """Unsubscribes and ends the iteration."""
        self._connection.close_stream(self.id)
        if not self._connection.lost:
            await self._connection.request("events.unsubscribe", UnsubscribeParams(subscription=self.id))

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __aiter__(self) -> AsyncIterator[SpaceEvent]:
        return self._events


_LINE_LIMIT = 1 << 30


class _Pending:
    __slots__ = ("future", "on_event", "on_answer")

    def __init__(
        self, future: asyncio.Future[Any], on_event: EventHandler | None,
        on_answer: Callable[[Any], None] | None,
    ) -> None:
        self.future = future
        self.on_event = on_event
        self.on_answer = on_answer


class _Connection:
    """One socket: writes requests, routes answers by id and events by request id or subscription."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._loop = asyncio.get_running_loop()
        self._next_id = 0
        self._pending: dict[int, _Pending] = {}
        self._streams: dict[str, _EventStream] = {}
        self._closing = False
        self.lost: ConnectionLostError | None = None
        self._reading = asyncio.ensure_future(self._read())

    def start(
        self, method: str, params: Mapping[str, Any], *, on_event: EventHandler | None = None,
        on_answer: Callable[[Any], None] | None = None,
    ) -> asyncio.Future[Any]:
        """Sends a request now; the future gets its result or its error."""
        return self.send(method, params, on_event=on_event, on_answer=on_answer)[1]

    def send(
        self, method: str, params: Mapping[str, Any], *, on_event: EventHandler | None = None,
        on_answer: Callable[[Any], None] | None = None,
    ) -> tuple[int | None, asyncio.Future[Any]]:
        """Sends a request now: its id (None when the connection is lost) and its future."""
        future: asyncio.Future[Any] = self._loop.create_future()
        if self.lost:
            future.set_exception(self.lost)
            return None, future
        self._next_id += 1
        self._pending[self._next_id] = _Pending(future, on_event, on_answer)
        line = json.dumps({"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params})
        self._writer.write(line.encode() + b"\n")
        return self._next_id, future

    def notify(self, method: str, params: Mapping[str, Any]) -> None:
        """Sends a notification (no answer comes)."""
        if not self.lost:
            line = json.dumps({"jsonrpc": "2.0", "method": method, "params": params})
            self._writer.write(line.encode() + b"\n")

    async def request(
        self, method: str, params: Mapping[str, Any], *, on_answer: Callable[[Any], None] | None = None,
    ) -> Any:
        """Sends a request and waits for its result."""
        return await self.start(method, params, on_answer=on_answer)

    def open_stream(self, id: str) -> _EventStream:
        stream = _EventStream()
        if self.lost:
            stream.end(self.lost)
        else:
            self._streams[id] = stream
        return stream

    def close_stream(self, id: str) -> None:
        stream = self._streams.pop(id, None)
        if stream:
            stream.end(None)

    async def close(self) -> None:
        self._closing = True
        self._writer.close()
        try:
            await self._reading
        except Exception:
            pass
        self._fail(ConnectionLostError("the connection was closed"))

    async def _read(self) -> None:
        reason = ""
        try:
            while line := await self._reader.readline():
                if line.endswith(b"\n"):
                    self._dispatch(line)
        except (OSError, ValueError) as error:
            reason = f": {error}"
        message = "the connection was closed" if self._closing else f"the connection to the spaces server was lost{reason}"
        self._fail(ConnectionLostError(message))

    def _dispatch(self, line: bytes) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            return  # The server only sends JSON.
        if message.get("method") == "disconnected":
            reason = (message.get("params") or {}).get("reason")
            reason = reason if isinstance(reason, str) else "no reason given"
            self._fail(ConnectionLostError(f"the spaces server closed the connection: {reason}"))
            return
        if message.get("method") == "event":
            params = message.get("params") or {}
            event, subscription, request_id = params.get("event"), params.get("subscription"), params.get("requestId")
            if isinstance(subscription, str):
                stream = self._streams.get(subscription)
                if stream:
                    stream.push(event)
            elif isinstance(request_id, int):
                entry = self._pending.get(request_id)
                if entry and entry.on_event:
                    try:
                        entry.on_event(event)
                    except Exception as error:  # A callback's error must not stop the reader.
                        self._loop.call_exception_handler(
                            {"message": "an event callback raised", "exception": error})
            return
        entry = self._pending.pop(message.get("id"), None) if isinstance(message.get("id"), int) else None
        if entry is None or entry.future.done():
            return
        if "error" in message:
            entry.future.set_exception(error_from_rpc(message["error"]))
            return
        if entry.on_answer:
            entry.on_answer(message.get("result"))
        entry.future.set_result(message.get("result"))

    def _fail(self, error: ConnectionLostError) -> None:
        if self.lost:
            return
        self.lost = error
        pending, self._pending = self._pending, {}
        for entry in pending.values():
            if not entry.future.done():
                entry.future.set_exception(error)
        streams, self._streams = self._streams, {}
        for stream in streams.values():
            stream.end(None if self._closing else error)
        self._writer.close()


class _EventStream:
    """An unbounded queue read with ``async for``: ``push`` events, then ``end`` (with an error or not)."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[tuple[SpaceEvent | None, BaseException | None, bool]] = asyncio.Queue()
        self._ended = False
        self._done = False

    def push(self, event: SpaceEvent) -> None:
        if not self._ended:
            self._queue.put_nowait((event, None, False))

    def end(self, error: BaseException | None) -> None:
        if not self._ended:
            self._ended = True
            self._queue.put_nowait((None, error, True))

    def __aiter__(self) -> _EventStream:
        return self

    async def __anext__(self) -> SpaceEvent:
        if self._done:
            raise StopAsyncIteration
        event, error, last = await self._queue.get()
        if last:
            self._done = True
            if error:
                raise error
            raise StopAsyncIteration
        return cast(SpaceEvent, event)


def _params(kind: Callable[..., P], **fields: Any) -> P:
    """The params ``kind`` (one of the declared params types) with the fields that are not None."""
    return kind(**{key: value for key, value in fields.items() if value is not None})


def _checked(result: OperationResult) -> OperationResult:
    error = error_from_result(result)
    if error:
        raise error
    return result


