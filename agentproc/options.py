"""Command-line options declared once: each :class:`Option` names its flag, its environment
variable, how its text is parsed, its default and its help.

:func:`add_options` derives the ``argparse`` options from such a table. A flag wins over its
variable; a variable fills in for a flag that is absent. A value that does not parse, from
either, is a :class:`UsageError` naming where it came from — the flag or the variable — and
the agent exits with status 2. An empty value is malformed like any other: setting a variable
to nothing does not unset it.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentproc.browser import parse_origin
from agentproc.redaction import without_credentials

__all__ = [
    "FALSE_WORDS",
    "LOG_LEVELS",
    "NO_VARIABLE",
    "TRUE_WORDS",
    "Option",
    "UsageError",
    "add_options",
    "boolean",
    "choice",
    "http_url",
    "integer",
    "key_value",
    "log_to_stderr",
    "number",
    "origin",
    "path",
    "port",
    "read_token",
    "secret",
    "shown_default",
    "shown_variable",
    "source_of",
    "text",
]

EXIT_USAGE = 2
"""The conventional status of a wrong command line (argparse's too)."""

TRUE_WORDS = frozenset({"1", "true"})
"""What a boolean variable may say to turn its option on (any letter case)."""

FALSE_WORDS = frozenset({"0", "false"})
"""What a boolean variable may say to turn its option off (any letter case)."""

Parser = Callable[[str], Any]
"""Turns an option's text into its value; raises ``ValueError`` saying what is wrong."""


class UsageError(SystemExit):
    """A malformed value or a refused combination of options; exits with status 2.

    Its message is one or more lines, the last naming the flag or variable at fault, and is
    what ``agentproc`` prints before it exits.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.code = EXIT_USAGE


@dataclass(frozen=True, slots=True)
class Option:
    """One option: a flag, the variable standing in for it, and how to read both."""

    flag: str
    """``--max-running``."""

    variable: str | None
    """``AGENTPROC_MAX_RUNNING``; ``None`` for an option that only exists as a flag."""

    parse: Parser
    """Turns text from the flag or the variable into the value."""

    default: Any
    """The value when neither the flag nor the variable is given."""

    help: str
    """What the option does; the variable and the default are added to it."""

    dest: str | None = None
    """The attribute of the parsed arguments; the flag's name (``max_running``) when omitted.
    Named after the :class:`~agentproc.settings.Settings` field it fills, if any."""

    sets: Any = None
    """For a flag that takes no value (a switch): the value its presence gives. Its variable
    is parsed as usual (e.g. with :func:`boolean`)."""

    repeat: bool = False
    """The flag may be given several times, collecting a list; its variable holds the list
    comma-separated."""

    metavar: str | None = None
    """How ``--help`` shows the flag's value."""

    shown_default: str | None = None
    """What ``--help`` says the default is, where the value alone would not say it (``None``
    meaning "the agent's own directory", a switch's ``True``)."""

    @property
    def name(self) -> str:
        """The attribute the value lands in."""
        return self.dest or self.flag.removeprefix("--").replace("-", "_")

    @property
    def switch(self) -> bool:
        """Whether the flag takes no value."""
        return self.sets is not None


class _FromVariable(str):
    """A variable's text as argparse's default: argparse parses a string default with the
    option's type only when the flag is absent, which is exactly when the variable counts."""

    __slots__ = ()


def _convert(option: Option) -> Parser:
    def convert(raw: str) -> Any:
        source = option.variable if isinstance(raw, _FromVariable) else option.flag
        # A list in a variable is comma-separated; spaces around a comma are not part of it.
        listed = option.repeat and isinstance(raw, _FromVariable)
        items = [item.strip() for item in raw.split(",")] if listed else [raw]
        try:
            values = [option.parse(item) for item in items]
        except ValueError as exc:
            raise UsageError(f"{source}: {exc}") from None
        return values if listed else values[0]

    convert.__name__ = option.name  # argparse names the type in some of its messages
    return convert


class _Store(argparse.Action):
    """Stores a flag's value and records that the flag was given."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, self._value(namespace, values))
        namespace.flags_given = namespace.flags_given | {self.dest}

    def _value(self, namespace: argparse.Namespace, values: Any) -> Any:
        return values


class _Switch(_Store):
    """A flag without a value: its presence stores ``const``."""

    def _value(self, namespace: argparse.Namespace, values: Any) -> Any:
        return self.const


class _Append(_Store):
    """A repeatable flag: collects its values; the first one replaces the default."""

    def _value(self, namespace: argparse.Namespace, values: Any) -> Any:
        earlier = getattr(namespace, self.dest) if self.dest in namespace.flags_given else []
        return [*earlier, values]


def add_options(
    parser: argparse.ArgumentParser, options: Sequence[Option], environ: Mapping[str, str]
) -> None:
    """Add ``options`` to ``parser``, with defaults from ``environ`` where a variable is set.

    The parsed arguments also carry ``flags_given``, the names of the options given as flags,
    which :func:`source_of` reads.
    """
    parser.set_defaults(flags_given=frozenset())
    for option in options:
        raw = environ.get(option.variable) if option.variable else None
        action = _Switch if option.switch else _Append if option.repeat else _Store
        metavar = option.metavar or ("N" if option.parse is integer else option.name.upper())
        parser.add_argument(
            option.flag,
            action=action,
            dest=option.name,
            nargs=0 if option.switch else None,
            const=option.sets,
            type=_convert(option),
            default=option.default if raw is None else _FromVariable(raw),
            metavar=None if option.switch else metavar,
            help=_help(option),
        )


NO_VARIABLE = "none, flag only"
"""What ``--help`` says of an option that has no variable."""


def shown_default(option: Option) -> str:
    """The default of ``option`` as ``--help`` and the README say it."""
    if option.shown_default is not None:
        return option.shown_default
    if option.default in (None, []):
        return "none"
    if option.switch:
        return "on" if option.default else "off"
    if isinstance(option.default, float):
        return f"{option.default:g}"
    return str(option.default)


def shown_variable(option: Option) -> str:
    """The variable of ``option`` as ``--help`` says it: a switch's with the value that sets
    it (``AGENTPROC_GIT_ASKPASS=1``)."""
    if option.variable is None:
        return NO_VARIABLE
    if option.switch:
        return f"{option.variable}={'1' if option.sets else '0'}"
    if option.repeat:
        return f"{option.variable}, values separated by commas"
    return option.variable


def _help(option: Option) -> str:
    # argparse expands %-formats in help texts: a literal percent sign must be doubled.
    text = f"{option.help} [default: {shown_default(option)}; variable: {shown_variable(option)}]"
    return text.replace("%", "%%")


def source_of(args: argparse.Namespace, option: Option, environ: Mapping[str, str]) -> str:
    """Where the value of ``option`` came from: its flag, or its variable when that filled in.

    An option left at its default is named by its flag, where a user would set it.
    """
    if option.name in args.flags_given or option.variable is None:
        return option.flag
    return option.variable if option.variable in environ else option.flag


LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
"""What ``--log-level`` accepts, for every command."""


def log_to_stderr(level: str) -> None:
    """Send the log, from ``level`` (one of :data:`LOG_LEVELS`) up, to stderr: a command's
    stdout is the access log (``serve``) or the protocol itself (``mcp``)."""
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def read_token(
    args: argparse.Namespace, token: Option, token_file: Option, environ: Mapping[str, str]
) -> str | None:
    """The bearer token given with ``token`` (its flag or variable) or read from the file of
    ``token_file`` (trimmed), or ``None`` when neither is given.

    Raises:
        UsageError: both are given, or the file cannot be read, is not text, or is empty;
            the message never shows the token.
    """
    path: Path | None = getattr(args, token_file.name)
    value: str | None = getattr(args, token.name)
    if path is None:
        return value
    where = source_of(args, token_file, environ)
    if value is not None:
        raise UsageError(
            f"{where}: give the token once, not also with {source_of(args, token, environ)}"
        )
    try:
        content = path.read_text()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise UsageError(f"{where}: cannot read {path}: {reason}") from None
    except UnicodeDecodeError:
        # Not echoing the decoder's message: it quotes bytes of the secret.
        raise UsageError(f"{where}: {path} is not UTF-8 text") from None
    try:
        return secret(content)
    except ValueError as exc:
        raise UsageError(f"{where}: the token in {path} {exc}") from None


# -- parsers ----------------------------------------------------------------------------------


def text(raw: str) -> str:
    """Any text but the empty one."""
    if not raw:
        raise ValueError("must not be empty")
    return raw


def secret(raw: str) -> str:
    """A token: trimmed, and never empty. Its value is never shown in a message."""
    value = raw.strip()
    if not value:
        raise ValueError("must not be empty (leave it unset for no token)")
    return value


def integer(raw: str) -> int:
    """A whole number, e.g. ``-5`` or ``100``."""
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{raw!r} is not a whole number") from None


def number(raw: str) -> float:
    """A finite number, e.g. ``0.5`` or ``300``."""
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{raw!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{raw!r} is not a finite number")
    return value


def port(raw: str) -> int:
    """A TCP port, 0 (any free one) to 65535."""
    value = integer(raw)
    if not 0 <= value <= 65535:
        raise ValueError(f"{value} is not a port (0 to 65535)")
    return value


def boolean(raw: str) -> bool:
    """One of :data:`TRUE_WORDS` or :data:`FALSE_WORDS`, in any letter case."""
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    allowed = "/".join(sorted(TRUE_WORDS)) + " or " + "/".join(sorted(FALSE_WORDS))
    raise ValueError(f"{raw!r} is neither on nor off: use {allowed}")


def choice(*allowed: str) -> Parser:
    """One of ``allowed``, exactly."""

    def parse(raw: str) -> str:
        if raw not in allowed:
            raise ValueError(f"{raw!r} is not one of {', '.join(allowed)}")
        return raw

    return parse


def origin(raw: str) -> str:
    """A web origin, ``scheme://host[:port]``, as browsers send it in ``Origin``."""
    parse_origin(raw)
    return raw


def path(raw: str) -> Path:
    """A file system path (not checked here: whether it must exist depends on the option)."""
    return Path(text(raw))


def http_url(raw: str) -> str:
    """An ``http://`` or ``https://`` URL with a host. Shown without its credentials."""
    scheme, separator, rest = text(raw).partition("://")
    if not separator or scheme.lower() not in ("http", "https") or not rest.strip("/"):
        raise ValueError(f"{without_credentials(raw)!r} is not an http(s) URL with a host")
    return raw


def key_value(raw: str) -> tuple[str, str]:
    """``KEY=VALUE``; the value may be empty or contain ``=``."""
    key, separator, value = raw.partition("=")
    if not separator or not key:
        raise ValueError(f"expected KEY=VALUE, got {raw!r}")
    return key, value
