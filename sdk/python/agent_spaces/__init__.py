"""The Python SDK of Agent Spaces: an asyncio client for ``spaces serve`` (see the protocol section of the README)."""

from .client import Operation, Space, SpacesClient, Subscription, connect, default_home
from .errors import ConnectionLostError, DeniedError, OperationError, RequestError, SpacesError
from .types import (
    MAX_REASON_LENGTH,
    ApprovalExtension,
    ApprovalRequest,
    Decision,
    HelloResult,
    Op,
    OperationResult,
    SpaceConfig,
    SpaceEvent,
)

__all__ = [
    "connect", "default_home", "SpacesClient", "Space", "Operation", "Subscription",
    "SpacesError", "OperationError", "DeniedError", "RequestError", "ConnectionLostError",
    "ApprovalExtension", "ApprovalRequest", "MAX_REASON_LENGTH", "Decision", "HelloResult", "Op", "OperationResult", "SpaceConfig", "SpaceEvent",
]
