"""C4's page rules (Raffel et al. 2020) that still mean something in instruction data.

How the web rules are adapted to instruction data: see :mod:`._prose`.
"""

from __future__ import annotations

import re

from ..record import Record
from ..registry import register
from ..step import KEEP, Drop, Filter, Verdict
from ..text.code import looks_like_code, strip_code
from ..text.ignorecase import ignorecase_prefilter
from ._prose import Fields, texts_of

_LOREM = re.compile(r"lorem ipsum", re.I)
_JS_BOILERPLATE = re.compile(
    r"(?:enable|enabled|requires?|turn on|activate|allow)\s+javascript"
    r"|javascript\s+(?:is|must be)\s+(?:disabled|required|turned off|not enabled)"
    r"|your browser (?:does not|doesn't) support javascript",
    re.I,
)
# Every match of each pattern holds the word: without it the case-insensitive search is not run.
_may_hold_lorem = ignorecase_prefilter("lorem")
_may_hold_javascript = ignorecase_prefilter("javascript")


@register("filter.c4_quality")
class C4Quality(Filter):
    """C4's page rules that still mean something in instruction data.

    ``lorem ipsum`` placeholder text anywhere; web boilerplate about
    JavaScript ("please enable JavaScript"; C4 dropped every line that said
    "javascript", which would drop every answer about the language); curly
    brackets in prose (off by default: JSON, sets and LaTeX use them, and
    code is already exempt). Answers only by default: a prompt may quote
    placeholder text as the input of a task ("count the words in: Lorem
    ipsum ...").
    """

    reasons = ("c4_lorem_ipsum", "c4_javascript", "c4_curly_bracket")

    def __init__(self, fields: Fields = "answer", lorem_ipsum: bool = True, javascript: bool = True, curly_bracket: bool = False):
        self.fields = fields
        self.lorem_ipsum = lorem_ipsum
        self.javascript = javascript
        self.curly_bracket = curly_bracket

    def keep(self, rec: Record) -> Verdict:
        for path, text in texts_of(rec, self.fields):
            if self.lorem_ipsum and _may_hold_lorem(text) and _LOREM.search(text):
                return Drop("c4_lorem_ipsum", 1, 0, detail=path)
            # "ript" first, one substring test: the word as prose writes it ("JavaScript", "javascript"). An
            # all-caps "JAVASCRIPT" is passed over by this test (a gap kept so that verdicts stay as they were).
            if self.javascript and "ript" in text and _may_hold_javascript(text) and _JS_BOILERPLATE.search(text):
                return Drop("c4_javascript", 1, 0, detail=path)
            if self.curly_bracket and "{" in text:
                prose = strip_code(text)
                if "{" in prose and not looks_like_code(prose):
                    return Drop("c4_curly_bracket", prose.count("{"), 0, detail=path)
        return KEEP
