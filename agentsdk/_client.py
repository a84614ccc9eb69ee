"""``AgentConn`` and ``AsyncAgentConn``, the process API's clients, in one place to import.

The synchronous client lives in ``agentsdk._sync_client``, the asynchronous one in
``agentsdk._async_client``; they mirror each other line for line. This module only gathers
them for ``agentsdk`` and knows nothing of either's methods.
"""

from agentsdk._async_client import AsyncAgentConn
from agentsdk._sync_client import AgentConn

__all__ = ["AgentConn", "AsyncAgentConn"]
