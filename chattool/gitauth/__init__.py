"""The control plane's side of the askpass flow: hand git its token, refresh the chat that ran git.

A command started for a chat runs ``git push``; git runs ``agentproc-askpass``, which calls
``GET /api/v2/workspaceagents/me/external-auth`` here with the agent token, the provider URL,
the repository's branch and origin, and the chat id. The router answers with the user's
provider token and, since a push or a pull request usually follows, marks the git status of
*that chat* stale and refreshes it after pauses of 1, 3, 5, 10 and 20 s (about 39 s in all,
stopping early once the status is final). Without a chat id
(an older agent, or git run outside any chat) every chat of the workspace is refreshed.

Mount it in any FastAPI app::

    store = MyChatStore(db)                     # implements ChatStore
    app.include_router(create_external_auth_router(MyTokenLookup(db), store))

The router owns a :class:`GitRefresher` through its lifespan, which FastAPI runs for every
app that includes it. To run the refresher yourself (to share it, or to watch its reports),
create it, enter it in your app's lifespan, and pass it as ``refresher=``.

The two seams are protocols: :class:`TokenLookup` (agent token to workspace, provider token
by URL or id) and :class:`ChatStore` (a workspace's chats, mark stale, refresh).
:class:`InMemoryChatStore` and :class:`InMemoryTokenLookup` implement them for tests, demos
and single-process control planes. Everything logs to the ``chattool.gitauth`` logger.

``EXTERNAL_AUTH_PATH`` and ``SESSION_TOKEN_HEADER`` are the SDK's own (Coder's path and token
header), so the router and ``agentsdk.ControlPlaneClient`` cannot drift apart; an agent and
askpass written for Coder work against this router too.
"""

from agentsdk import EXTERNAL_AUTH_PATH as EXTERNAL_AUTH_PATH
from agentsdk import SESSION_TOKEN_HEADER as SESSION_TOKEN_HEADER
from chattool.gitauth._memory import ChatDiffStatus as ChatDiffStatus
from chattool.gitauth._memory import ExternalAuthProvider as ExternalAuthProvider
from chattool.gitauth._memory import InMemoryChatStore as InMemoryChatStore
from chattool.gitauth._memory import InMemoryTokenLookup as InMemoryTokenLookup
from chattool.gitauth._protocols import ChatStore as ChatStore
from chattool.gitauth._protocols import GitRef as GitRef
from chattool.gitauth._protocols import TokenLookup as TokenLookup
from chattool.gitauth._protocols import WorkspaceIdentity as WorkspaceIdentity
from chattool.gitauth._refresher import REFRESH_SCHEDULE as REFRESH_SCHEDULE
from chattool.gitauth._refresher import GitRefresher as GitRefresher
from chattool.gitauth._refresher import RefreshReport as RefreshReport
from chattool.gitauth._router import LISTEN_POLL_SECONDS as LISTEN_POLL_SECONDS
from chattool.gitauth._router import LISTEN_WAIT_SECONDS as LISTEN_WAIT_SECONDS
from chattool.gitauth._router import create_external_auth_router as create_external_auth_router

__all__ = [
    "EXTERNAL_AUTH_PATH",
    "LISTEN_POLL_SECONDS",
    "LISTEN_WAIT_SECONDS",
    "REFRESH_SCHEDULE",
    "SESSION_TOKEN_HEADER",
    "ChatDiffStatus",
    "ChatStore",
    "ExternalAuthProvider",
    "GitRef",
    "GitRefresher",
    "InMemoryChatStore",
    "InMemoryTokenLookup",
    "RefreshReport",
    "TokenLookup",
    "WorkspaceIdentity",
    "create_external_auth_router",
]

# Reprs, tracebacks and docs name the public path (chattool.gitauth.GitRef), not the private
# module; only this package's own classes, not the SDK's constants.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) and _obj.__module__.startswith("chattool.gitauth._"):
        _obj.__module__ = "chattool.gitauth"
del _name, _obj
