"""Preference pairs: how pairs are built from scored completions, and the curation steps that judge pairs.

- :mod:`.build`: the documented rule that makes one pair of a row of scored completions (UltraFeedback).
- :mod:`.sides`: ``pair.empty_side`` (an empty or placeholder side) and ``pair.refusal`` (a refusal
  chosen for a harmless prompt, or rejected for a harmful one).
- :mod:`.similar`: ``pair.same_answers`` (identical or near-identical sides) and ``pair.shared_prefix``
  (sides that differ only after a long shared start).
- :mod:`.contradiction`: ``pair.contradiction``: the same two answers preferred both ways.
- :mod:`.length`: ``pair.length_balance``: how often the chosen answer is the longer one, reported
  and optionally balanced.

How a pair is held in a :class:`~curatune.curation.record.Record` is described in that module.
"""
