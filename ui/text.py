"""User strings as text, never as markdown or HTML.

Names, run labels, questions, captions, paths and model strings come from users (a folder name, a
label typed on the Runs page, a VLM question) and are shown to other users of a shared server.
Streamlit renders markdown in `st.markdown`, `st.caption`, `st.error`, headers, expander and widget
labels, so a label such as `[x](http://evil)` would be a link and `![x](http://host/pixel)` a
remote image. Every user string goes into such text through `md()`, which backslash-escapes the
characters that start markdown, HTML, LaTeX, autolinks and Streamlit's `:colour[...]` and
`:material/...:` directives (CommonMark lets any ASCII punctuation be escaped so), so it reads
exactly as typed; HTML built by hand goes through `html.escape` (`html()`).
"""

from __future__ import annotations

import html as _html
import re
from typing import Any

_ACTIVE = re.compile(r"([\\`*_\[\]<>~$:@|&])")
"""Characters that open markup anywhere in a line (brackets: links and images; `:` and `@`: autolinks
and Streamlit directives; `&`: entities)."""
_LINE_START = re.compile(r"^(\s*)([#>+=-]|\d+[.)])")
"""Block markers, which only count at the start (a user string never holds a line break here)."""
_WWW = re.compile(r"(?i)\b(www)\.")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029]+")


def md(value: Any) -> str:
    """`value` as literal text inside markdown: no link, image, emphasis, heading, HTML, LaTeX,
    Streamlit colour or icon directive, and no new block (line breaks become spaces)."""
    text = _ACTIVE.sub(r"\\\1", _LINE_BREAKS.sub(" ", str(value)))
    text = _WWW.sub(r"\1\\.", text)
    return _LINE_START.sub(lambda match: match.group(1) + "".join(char if char.isdigit() else "\\" + char for char in match.group(2)), text)


def html(value: Any) -> str:
    """`value` as literal text inside HTML (quotes included, for attributes)."""
    return _html.escape(str(value), quote=True)


def code(value: Any) -> str:
    """`value` in an inline code span (backticks inside it cannot close the span)."""
    text = _LINE_BREAKS.sub(" ", str(value))
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}"
