"""agentsdk: a typed client for the agentproc process API."""

from agentsdk.types import (
    ErrorResponse as ErrorResponse,
)
from agentsdk.types import (
    ListProcessesResponse as ListProcessesResponse,
)
from agentsdk.types import (
    ProcessInfo as ProcessInfo,
)
from agentsdk.types import (
    ProcessOutputResponse as ProcessOutputResponse,
)
from agentsdk.types import (
    ProcessTruncation as ProcessTruncation,
)
from agentsdk.types import (
    SignalProcessRequest as SignalProcessRequest,
)
from agentsdk.types import (
    StartProcessRequest as StartProcessRequest,
)
from agentsdk.types import (
    StartProcessResponse as StartProcessResponse,
)

__all__ = [
    "ErrorResponse",
    "ListProcessesResponse",
    "ProcessInfo",
    "ProcessOutputResponse",
    "ProcessTruncation",
    "SignalProcessRequest",
    "StartProcessRequest",
    "StartProcessResponse",
]
