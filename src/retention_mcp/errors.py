"""The one error rule.

:class:`InputError` is the only exception whose message reaches the client as a tool error: it is
raised for bad input (a missing column, a rate that is not a rate, a file of the wrong kind) with a
message written for the person using the tool — what was wrong and what to do. Anything else that
escapes a tool is a bug: the server logs it at ERROR with its traceback and tells the client only
that an internal error happened.

:class:`LimitError` is an :class:`InputError` for a call that ran into a server limit (time, memory,
file size, output size); its message names the limit and how to raise it.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad input: the message says what was wrong and how to fix it, and is shown to the user."""


class LimitError(InputError):
    """A call went past a server limit; the message names the limit and the setting that raises it."""


#: Longest piece of caller-supplied text a log line carries.
LOG_TEXT_CHARS = 300


def capped(text: str, limit: int = LOG_TEXT_CHARS) -> str:
    """``text`` for a log line: at most ``limit`` characters, naming how much was cut (a message may quote what
    the caller sent: plan prose, a template, a file name)."""
    text = str(text)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit:,} more characters not logged]"
