"""chattool: LLM tools that run commands through an agentproc agent.

``execute`` runs a shell command and waits for it (on a terminal, with ``interactive``);
``process_output``, ``process_list``, ``process_signal`` and ``process_input`` follow, list,
stop and answer what it started. Each tool gives its definition in
the OpenAI and Anthropic formats and runs a model's call with ``await tool.run(arguments)``.
"""

from chattool._base import Tool as Tool
from chattool._base import ToolArguments as ToolArguments
from chattool._base import ToolResult as ToolResult
from chattool._chat import ChatTools as ChatTools
from chattool._chat import chat_connection as chat_connection
from chattool._chat import chat_tools as chat_tools
from chattool._connection import CHAT_ID_HEADER as CHAT_ID_HEADER
from chattool._connection import ConnectionResolver as ConnectionResolver
from chattool._connection import InputConnection as InputConnection
from chattool._connection import RunConnection as RunConnection
from chattool._connection import ToolConnection as ToolConnection
from chattool._connection import chat_headers as chat_headers
from chattool._duration import format_duration as format_duration
from chattool._duration import parse_duration as parse_duration
from chattool._execute import NON_INTERACTIVE_ENV as NON_INTERACTIVE_ENV
from chattool._execute import ExecuteArguments as ExecuteArguments
from chattool._execute import ExecuteTool as ExecuteTool
from chattool._input import ProcessInputArguments as ProcessInputArguments
from chattool._input import ProcessInputTool as ProcessInputTool
from chattool._keys import KEYS as KEYS
from chattool._process import ProcessListArguments as ProcessListArguments
from chattool._process import ProcessListTool as ProcessListTool
from chattool._process import ProcessOutputArguments as ProcessOutputArguments
from chattool._process import ProcessOutputTool as ProcessOutputTool
from chattool._process import ProcessSignalArguments as ProcessSignalArguments
from chattool._process import ProcessSignalTool as ProcessSignalTool
from chattool._results import CommandResult as CommandResult
from chattool._results import ExecuteResult as ExecuteResult
from chattool._results import ProcessOutputResult as ProcessOutputResult

__all__ = [
    "CHAT_ID_HEADER",
    "KEYS",
    "NON_INTERACTIVE_ENV",
    "ChatTools",
    "CommandResult",
    "ConnectionResolver",
    "ExecuteArguments",
    "ExecuteResult",
    "ExecuteTool",
    "InputConnection",
    "ProcessInputArguments",
    "ProcessInputTool",
    "ProcessListArguments",
    "ProcessListTool",
    "ProcessOutputArguments",
    "ProcessOutputResult",
    "ProcessOutputTool",
    "ProcessSignalArguments",
    "ProcessSignalTool",
    "RunConnection",
    "Tool",
    "ToolArguments",
    "ToolConnection",
    "ToolResult",
    "chat_connection",
    "chat_headers",
    "chat_tools",
    "format_duration",
    "parse_duration",
]
