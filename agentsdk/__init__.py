"""agentsdk: a typed client for the agentproc process API.

``AgentConn`` (sync) and ``AsyncAgentConn`` (async) drive an agent; the wire models, the
output streams (``OutputStream``, ``AsyncOutputStream``) and the error tree are importable
from here. ``ControlPlaneClient`` and ``AsyncControlPlaneClient``
make the agent's own calls to its control plane (git credentials). ``agentsdk.wire`` holds the
facts every end of the wire shares (paths, header and variable names, bounds, the output's
omission marker); the most used of them are importable from here too. Modules whose names
start with ``_`` are private.

Every error the SDK raises for a call that reached I/O is an ``AgentSDKError``::

    AgentSDKError
     ├── APIConnectionError        no answer: refused, reset, protocol error
     │    └── APITimeoutError
     └── APIStatusError            the agent answered with an error status
          ├── BadRequestError (400)     ├── AuthenticationError (401)
          ├── NotFoundError (404)       ├── ConflictError (409)
          ├── PayloadTooLargeError (413)├── RateLimitError (429)
          └── InternalServerError (>= 500)

Bad arguments raise ``ValueError`` before anything is sent.
"""

# The clients, their streams and their errors (the half of the SDK that needs httpx) load on
# first use, so the agent, which shares only the wire models and facts, starts without them.

import importlib as _importlib
import typing as _typing

from agentsdk._chat import canonical_chat_id as canonical_chat_id
from agentsdk._chat import chat_id_from_headers as chat_id_from_headers
from agentsdk._chat import parse_chat_id as parse_chat_id
from agentsdk.types import ErrorResponse as ErrorResponse
from agentsdk.types import ExitEvent as ExitEvent
from agentsdk.types import ExitReason as ExitReason
from agentsdk.types import ExternalAuthRequest as ExternalAuthRequest
from agentsdk.types import ExternalAuthResponse as ExternalAuthResponse
from agentsdk.types import FieldValidation as FieldValidation
from agentsdk.types import ListProcessesResponse as ListProcessesResponse
from agentsdk.types import OutputEvent as OutputEvent
from agentsdk.types import ProcessInfo as ProcessInfo
from agentsdk.types import ProcessInputRequest as ProcessInputRequest
from agentsdk.types import ProcessInputResponse as ProcessInputResponse
from agentsdk.types import ProcessOutputResponse as ProcessOutputResponse
from agentsdk.types import ProcessScreenResponse as ProcessScreenResponse
from agentsdk.types import ProcessTruncation as ProcessTruncation
from agentsdk.types import RunProcessResponse as RunProcessResponse
from agentsdk.types import ScreenCursor as ScreenCursor
from agentsdk.types import Signal as Signal
from agentsdk.types import SignalProcessRequest as SignalProcessRequest
from agentsdk.types import SignalProcessResponse as SignalProcessResponse
from agentsdk.types import StartProcessParams as StartProcessParams
from agentsdk.types import StartProcessRequest as StartProcessRequest
from agentsdk.types import StartProcessResponse as StartProcessResponse
from agentsdk.types import StreamEvent as StreamEvent
from agentsdk.types import TerminalSize as TerminalSize
from agentsdk.wire import CHAT_ID_HEADER as CHAT_ID_HEADER
from agentsdk.wire import EXTERNAL_AUTH_PATH as EXTERNAL_AUTH_PATH
from agentsdk.wire import LISTEN_HOLD_SECONDS as LISTEN_HOLD_SECONDS
from agentsdk.wire import SESSION_TOKEN_HEADER as SESSION_TOKEN_HEADER

if _typing.TYPE_CHECKING:
    from agentsdk._client import AgentConn as AgentConn
    from agentsdk._client import AsyncAgentConn as AsyncAgentConn
    from agentsdk._controlplane import AsyncControlPlaneClient as AsyncControlPlaneClient
    from agentsdk._controlplane import ControlPlaneClient as ControlPlaneClient
    from agentsdk._exceptions import AgentSDKError as AgentSDKError
    from agentsdk._exceptions import APIConnectionError as APIConnectionError
    from agentsdk._exceptions import APIStatusError as APIStatusError
    from agentsdk._exceptions import APITimeoutError as APITimeoutError
    from agentsdk._exceptions import AuthenticationError as AuthenticationError
    from agentsdk._exceptions import BadRequestError as BadRequestError
    from agentsdk._exceptions import ConflictError as ConflictError
    from agentsdk._exceptions import InternalServerError as InternalServerError
    from agentsdk._exceptions import NotFoundError as NotFoundError
    from agentsdk._exceptions import PayloadTooLargeError as PayloadTooLargeError
    from agentsdk._exceptions import RateLimitError as RateLimitError
    from agentsdk._stream import AsyncOutputStream as AsyncOutputStream
    from agentsdk._stream import OutputStream as OutputStream

_CLIENT_HALF = (
    "agentsdk._client",
    "agentsdk._controlplane",
    "agentsdk._exceptions",
    "agentsdk._stream",
)
"""The modules that need httpx: the names of theirs that ``__all__`` lists load on first use."""

__all__ = [
    "CHAT_ID_HEADER",
    "EXTERNAL_AUTH_PATH",
    "LISTEN_HOLD_SECONDS",
    "SESSION_TOKEN_HEADER",
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AgentConn",
    "AgentSDKError",
    "AsyncAgentConn",
    "AsyncControlPlaneClient",
    "AsyncOutputStream",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "ControlPlaneClient",
    "ErrorResponse",
    "ExitEvent",
    "ExitReason",
    "ExternalAuthRequest",
    "ExternalAuthResponse",
    "FieldValidation",
    "InternalServerError",
    "ListProcessesResponse",
    "NotFoundError",
    "OutputEvent",
    "OutputStream",
    "PayloadTooLargeError",
    "ProcessInfo",
    "ProcessInputRequest",
    "ProcessInputResponse",
    "ProcessOutputResponse",
    "ProcessScreenResponse",
    "ProcessTruncation",
    "RateLimitError",
    "RunProcessResponse",
    "ScreenCursor",
    "Signal",
    "SignalProcessRequest",
    "SignalProcessResponse",
    "StartProcessParams",
    "StartProcessRequest",
    "StartProcessResponse",
    "StreamEvent",
    "TerminalSize",
    "canonical_chat_id",
    "chat_id_from_headers",
    "parse_chat_id",
]


def _public(obj: _typing.Any) -> _typing.Any:
    # Tracebacks and reprs name the public path (agentsdk.NotFoundError), not the private module.
    if isinstance(obj, type) and obj.__module__.startswith("agentsdk._"):
        obj.__module__ = __name__
    return obj


def _load_client_half() -> None:
    public = set(__all__)
    for module in _CLIENT_HALF:
        loaded = _importlib.import_module(module)
        for name in public.intersection(loaded.__all__):
            globals()[name] = _public(getattr(loaded, name))


def __getattr__(name: str) -> _typing.Any:
    # Only names not loaded yet get here: a public one is of the client half, loaded all at
    # once, so that an error raised by a client is named by its public path too.
    if name in __all__:
        _load_client_half()
        if name in globals():
            return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


for _name in __all__:
    if _name in globals():
        _public(globals()[_name])
del _name
