"""HTML repair: messages scraped as HTML become plain text; stray entities become characters.

A message counts as HTML when, outside code, it has at least ``min_tags``
real tags of the common text-markup elements, one of them a closing tag or a
``<br>``/``<a href>``: "use the <div> element" is a sentence about HTML, not
HTML. Records whose prompt is about markup (HTML, XML, tags, web pages) are
left alone, since their answers are markup on purpose, fenced or not.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import Annotated

from pydantic import Field

from ..filter._instruct_text import map_prose, split_code
from ..record import Record
from ..registry import register
from ..step import Edit, Mapper
from ..text.paths import text_fields

_TEXT_TAGS = (
    "p|br|div|span|li|ul|ol|a|b|i|u|em|strong|h[1-6]|table|thead|tbody|tr|td|th|"
    "blockquote|pre|code|img|hr|font|center|small|sup|sub|dl|dt|dd|audio|video|iframe"
)
_TAG = re.compile(rf"</?(?:{_TEXT_TAGS})(?:\s+[a-z-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>]+))?)*\s*/?>", re.I)
_STRONG_TAG = re.compile(r"</[a-z0-9]+\s*>|<br\s*/?>|<a\s+href\s*=", re.I)
_ENTITY = re.compile(r"&(?:[a-zA-Z][a-zA-Z0-9]{1,31}|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});")
_MARKUP_TOPIC = re.compile(r"\b(html\d?|xhtml|xml|markup|tags?|web ?pages?|websites?|css|dom|jsx|svg|entit(y|ies)|escape)\b", re.I)
_BLOCK = {"p", "div", "ul", "ol", "table", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "dl", "center", "hr"}
_SKIP = {"script", "style", "head", "title"}


class _TextExtractor(HTMLParser):
    """Plain text of an HTML fragment: blocks on their own lines, list items as "- ", cells split by " | "."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0
        self.broke = False  # the last thing written was a line break made by a tag

    def handle_starttag(self, tag, attrs):
        self.broke = tag in ("br", "li") or tag in _BLOCK
        if tag in _SKIP:
            self.skip += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in ("td", "th"):
            self.parts.append(" | ")
        elif tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        self.broke = tag in _BLOCK
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data):
        if self.broke and data.startswith("\n"):
            data = data[1:]  # "line<br>\nline" is one line break, not two
        self.broke = False
        if not self.skip:
            self.parts.append(data)

    def text(self) -> str:
        raw = "".join(self.parts).replace("\u00a0", " ")
        lines = [" ".join(line.split()) for line in raw.split("\n")]
        lines = [re.sub(r"^\| | \|$", "", ln).strip() for ln in lines]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _strip_html(piece: str) -> str:
    parser = _TextExtractor()
    parser.feed(piece)
    parser.close()
    # Keep the piece's own line breaks at its ends: a code fence after it must stay at the start of a line.
    lead = piece[: len(piece) - len(piece.lstrip())]
    trail = piece[len(piece.rstrip()) :]
    return lead + parser.text() + trail


def _unescape(piece: str) -> str:
    # &nbsp; becomes a plain space: a no-break space in training text is noise.
    return _ENTITY.sub(lambda m: html.unescape(m.group()).replace("\u00a0", " "), piece)


@register("clean.html")
class HtmlToText(Mapper):
    """Turn HTML messages into plain text and unescape stray entities (``&amp;``, ``&quot;``, ``&#39;``, ``&nbsp;``).

    Code (fenced blocks and `inline` spans) is never changed, and records whose
    prompt is about markup are skipped (set ``skip_markup_topics`` false to
    repair them too). An entity needs its semicolon ("AT&T" stays). Applied
    until nothing changes, so double-escaped text (``&amp;quot;``) ends as one
    character and a second pass changes nothing.
    """

    reasons = ("html_stripped", "html_entities")

    def __init__(self, min_tags: Annotated[int, Field(ge=1)] = 2, skip_markup_topics: bool = True):
        self.min_tags = min_tags
        self.skip_markup_topics = skip_markup_topics

    def is_html(self, text: str) -> bool:
        prose = "".join(p for p in _prose_pieces(text))
        tags = _TAG.findall(prose)
        return len(tags) >= self.min_tags and any(_STRONG_TAG.match(t) for t in tags)

    def apply(self, rec: Record) -> Edit | None:
        fields = [(path, text) for path, text in text_fields(rec) if "<" in text or "&" in text]
        if not fields:
            return None  # nothing to repair: no need to read the prompt's topic
        if self.skip_markup_topics and _MARKUP_TOPIC.search(rec.prompt_text):
            return None
        new: dict[str, str] = {}
        notes: list[str] = []
        stripped_any = False
        for path, text in fields:
            fixed, stripped, entities = self.fix(text)
            if fixed != text:
                new[path] = fixed
                stripped_any |= stripped
                what = ["HTML tags stripped"] if stripped else []
                if entities:
                    what.append(f"{entities} entities unescaped")
                notes.append(f"{path}: {', '.join(what)}")
        if not new:
            return None
        return Edit(rec.with_text_fields(new), "html_stripped" if stripped_any else "html_entities", detail="; ".join(notes))

    def fix(self, text: str) -> tuple[str, bool, int]:
        """The repaired text, whether tags were stripped, and how many entities were unescaped."""
        stripped, entities = False, 0
        for _ in range(4):
            before = text
            if self.is_html(text):
                text = map_prose(text, _strip_html, inline=True)
                stripped = True
            entities += sum(len(_ENTITY.findall(p)) for p in _prose_pieces(text))
            text = map_prose(text, _unescape, inline=True)
            if text == before:
                break
        return text, stripped, entities


def _prose_pieces(text: str) -> list[str]:
    return [piece for is_code, piece in split_code(text, inline=True) if not is_code]
