"""Text that a visitor or a file supplies (link values, photo, file, class, run and model names, paths, archive
entries, error messages quoting any of them), shown as the literal string it is.

Streamlit renders Markdown in almost every element: st.markdown, captions, alerts, toasts, spinners, headers,
progress texts, image captions, table cells, and the labels and help of widgets (and the options of radios and
select sliders); Plotly renders a few HTML tags (<a href>, <b>, <br>, ...) in every text it draws. A name such as
"![t](http://host/track.png)" would otherwise become an image that every browser opening the page fetches. Every
page interpolates such strings through `plain` (Markdown) or `plot_text` (Plotly): the page's own wording keeps its
Markdown, the visitor's string never has any. Selectbox and multiselect options, st.text, st.code and dataframes
show text as it is and take it unescaped (there `plain` would show its backslashes).
"""
from __future__ import annotations

import html
import re

MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
"""Every ASCII punctuation character: CommonMark lets a backslash escape each one, and together they are all that
Markdown, GFM (autolinks, tables, strikethrough), HTML, entities, Streamlit's directives (:red[...],
:material/icon:) and its LaTeX ($...$) are written with."""
ESCAPED_PUNCTUATION = re.compile(r"\\([!-/:-@\[-`{-~])")
LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029]+")
AUTOLINK_STARTS = re.compile(r"(?<=:)(?=//)|(?<=www)(?=\.)|(?=@)", re.IGNORECASE)
"""Where GFM would start a link in plain text ("https://", "www.", "name@host"): it finds them in the text after
escapes are resolved, so no backslash stops it; an invisible WORD JOINER there does."""
WORD_JOINER = "\u2060"


def plain(value: object) -> str:
    """`value` as Markdown that renders as exactly its text, on one line (a line break could start a heading or a
    list in the element it lands in)."""
    unlinked = AUTOLINK_STARTS.sub(WORD_JOINER, LINE_BREAKS.sub(" ", str(value)))
    return MARKDOWN_PUNCTUATION.sub(r"\\\1", unlinked)


def read_back(source: str) -> str:
    """What a reader sees of Markdown written with `plain` (its escapes resolved, the word joiners dropped): what
    a test or a bench reading Streamlit's messages compares with the string it expects."""
    return ESCAPED_PUNCTUATION.sub(r"\1", source).replace(WORD_JOINER, "")


def plot_text(value: object) -> str:
    """`value` for a Plotly title, label, tick or hover text: its tags become entities, which Plotly draws as text."""
    return html.escape(LINE_BREAKS.sub(" ", str(value)), quote=False)
