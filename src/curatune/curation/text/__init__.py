"""Fast text kernels, each beside the plain reference version it must equal.

The filters and repair steps call these instead of carrying their own byte
tables, memos and ASCII shortcuts. Every module here follows one pattern:

- the kernel (``letter_runs``, ``TokenMemo``, ``first_ngram_excess``...), with
  the reason it is faster and the argument (a proof, or the measurement) that
  it gives the same answer in its docstring;
- right beside it, its reference: the obvious slow computation, named
  ``<kernel>_reference``, that defines what the kernel means;
- a test in ``tests/curation/text/`` that runs both on many generated strings
  (empty, non-ASCII, punctuation-heavy, the characters that case-fold to
  ASCII) and asserts identical results.

A kernel that is a prefilter (it may say "maybe" where the reference says
"no", never the reverse) says so, and its test asserts that implication.

Modules: :mod:`.words` (byte tables, word and letter-run scanners, folding),
:mod:`.code` (code stripping and the code shape test), :mod:`.ignorecase`
(case-insensitive literal prefilters), :mod:`.memo` (per-token memos),
:mod:`.patterns` (regex prefilters: needed literals, phrase tries, lexicon
terms), :mod:`.langid` (the language-id text cleaning and English shortcut),
:mod:`.ngrams` (Gopher's n-gram fractions and the bounds that skip them),
:mod:`.wordshape` (Gopher's word-shape counts), :mod:`.mojibake` (when ftfy
can change a text), :mod:`.whitespace` (when there is no whitespace to fix),
:mod:`.paths` (ledger paths of message texts).

Callers import the names they use (``from ..text.words import letter_runs``):
a module-level name costs one global look-up per call, an attribute of a
module object one more.
"""
