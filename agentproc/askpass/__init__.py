"""Chat-scoped git credentials in the workspace: ``agentproc-askpass`` and its environment.

Git runs ``agentproc-askpass`` (``GIT_ASKPASS``) when a remote wants credentials; it answers
with the user's token from the control plane, naming the chat whose command ran git.

- :mod:`~agentproc.askpass.prompt`: git's credential prompt, parsed, and the answer chosen.
- :mod:`~agentproc.askpass.git`: the branch and origin of the repository git runs in.
- :mod:`~agentproc.askpass.program`: the console program, git's protocol and the poll loop
  (imported only by the program itself: it loads an HTTP client, which the agent never needs).
- :mod:`~agentproc.askpass.environment`: the variables the agent gives every command so git
  finds the program and the program finds the control plane.
"""

from agentproc.askpass.environment import AGENT_TOKEN_VARIABLE as AGENT_TOKEN_VARIABLE
from agentproc.askpass.environment import AGENT_URL_VARIABLE as AGENT_URL_VARIABLE
from agentproc.askpass.environment import ASKPASS_SCRIPT as ASKPASS_SCRIPT
from agentproc.askpass.environment import CHAT_ID_VARIABLE as CHAT_ID_VARIABLE
from agentproc.askpass.environment import askpass_environment as askpass_environment
from agentproc.askpass.environment import find_askpass_program as find_askpass_program
from agentproc.askpass.git import git_context as git_context
from agentproc.askpass.prompt import AskpassPrompt as AskpassPrompt
from agentproc.askpass.prompt import choose_answer as choose_answer
from agentproc.askpass.prompt import parse_prompt as parse_prompt

__all__ = [
    "AGENT_TOKEN_VARIABLE",
    "AGENT_URL_VARIABLE",
    "ASKPASS_SCRIPT",
    "CHAT_ID_VARIABLE",
    "AskpassPrompt",
    "askpass_environment",
    "choose_answer",
    "find_askpass_program",
    "git_context",
    "parse_prompt",
]
