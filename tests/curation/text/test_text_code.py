"""Code stripping and the code shape test equal their plain versions (no shortcut, no cache, a character loop)."""

from __future__ import annotations

from curatune.curation.text.code import looks_like_code, looks_like_code_reference, strip_code, strip_code_reference

CODE_TEXTS = [
    "```python\nx = 1\n```\nThen `y` and ~~~\nz\n~~~ done",
    "```\nunclosed fence",
    "def f(x):\n    return x\nclass A:\n    pass",
    '{"a": [1, 2], "b": {"c": null}}',
    "SELECT * FROM t;\nINSERT INTO t VALUES (1);",
    "<div><p>html</p></div>",
    "Prose with one (aside) and x = 2.",
]


def test_strip_code_and_code_shape_equal_the_references(texts, generate):
    generated = generate("ab `~{}();=<>\n#/\t", 5000, seed=11, max_len=40)
    for text in texts + CODE_TEXTS + generated:
        assert strip_code(text) == strip_code_reference(text), repr(text)
        assert looks_like_code(text) == looks_like_code_reference(text), repr(text)
