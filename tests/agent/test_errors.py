"""The domain errors' messages, in isolation."""

from __future__ import annotations

from agentproc.errors import InvalidWorkdir, quote


def test_quote_is_gos_percent_q_for_text() -> None:
    """Quotes and backslashes are escaped; other text stays as it is, as Go's %q does."""
    assert quote('say "hé" \\ now') == '"say \\"hé\\" \\\\ now"'


def test_quote_escapes_a_lone_surrogate_so_the_message_can_be_sent() -> None:
    """A lone surrogate cannot be encoded as UTF-8: its escape stands in for it."""
    message = InvalidWorkdir("/tmp/\ud800", "does not exist").message
    assert message == 'Working directory "/tmp/\\ud800" does not exist.'
    message.encode("utf-8")
