"""Leakage-free train/val/test splits, and a leakage check for existing splits.

- :mod:`.clusters`: exact groups, MinHash near-duplicate pairs, semantic pairs, clusters;
- :mod:`.assign`: stratified targets and the assignment of whole clusters to splits;
- :mod:`.leakage`: cross-split duplicate pairs of existing splits, counted and listed;
- :mod:`.core`: :func:`split_records`, tying them together;
- :mod:`.io` and :mod:`.summary`: files in and out, terminal tables, for ``curatune split``.
"""

from .core import SplitResult, split_records
from .leakage import LeakageReport, leakage_report

__all__ = ["LeakageReport", "SplitResult", "leakage_report", "split_records"]
