"""The errors the SDK raises; each has a stable, machine-readable ``code``."""

from __future__ import annotations

from typing import Any

from .types import DecidedBy, ErrorCode, OperationResult


class SpacesError(Exception):
    """The base of every error this SDK raises."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        #: A stable code: an operation's error code, a JSON-RPC error's name, or ``disconnected``.
        self.code = code


class OperationError(SpacesError):
    """An operation or method ran and failed (``notFound``, ``editNoMatch``, ``spaceNotFound``, …)."""

    def __init__(self, code: ErrorCode | str, message: str, result: OperationResult | None = None) -> None:
        super().__init__(message, code)
        #: The operation's result (status ``failed``), when an operation failed.
        self.result = result


class DeniedError(SpacesError):
    """The policy, a person, or the approval timeout denied the operation."""

    def __init__(self, reason: str, decided_by: DecidedBy, result: OperationResult) -> None:
        super().__init__(f"denied by {decided_by}: {reason}", "denied")
        #: Why: the policy's reason, or the person's feedback.
        self.reason = reason
        #: Who decided: ``policy``, ``person`` or ``timeout``.
        self.decided_by = decided_by
        #: The operation's result (status ``denied``).
        self.result = result


class RequestError(SpacesError):
    """The server refused the request itself: invalid params, unknown method, forbidden for this role."""

    #: The JSON-RPC codes by name, as ``rpcErrors`` in ``schema/protocol.schema.json`` (-32000 is an OperationError).
    _names = {
        -32700: "parseError",
        -32600: "invalidRequest",
        -32601: "methodNotFound",
        -32602: "invalidParams",
        -32003: "forbidden",
    }

    def __init__(self, rpc_code: int, message: str) -> None:
        super().__init__(message, self._names.get(rpc_code, "requestError"))
        #: The JSON-RPC error code (-32602 invalid params, -32003 forbidden, …).
        self.rpc_code = rpc_code


class ConnectionLostError(SpacesError):
    """The connection is gone (or could not be made): every pending call and iterator gets this."""

    def __init__(self, message: str = "the connection to the spaces server closed") -> None:
        super().__init__(message, "disconnected")


def error_from_rpc(error: dict[str, Any]) -> SpacesError:
    """The exception a JSON-RPC error object stands for."""
    code, message = error.get("code", -32603), error.get("message", "")
    if code == -32000:
        return OperationError((error.get("data") or {}).get("code", "failed"), message)
    return RequestError(code, message)


def error_from_result(result: OperationResult) -> SpacesError | None:
    """The exception for a ``failed`` or ``denied`` result; ``None`` when it completed."""
    if result.get("status") == "denied":
        return DeniedError(result.get("reason", ""), result.get("decidedBy", "policy"), result)
    if result.get("status") == "failed":
        info = result.get("error") or {"code": "failed", "message": "the operation failed"}
        return OperationError(info["code"], info["message"], result)
    return None
