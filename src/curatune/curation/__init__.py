"""The curation engine: records, formats, steps, the pipeline and the ledger.

Importing the package registers the preference formats (``preference_formats``) into
``formats.FORMATS``, so that every reader and writer knows them whichever module is imported first.
"""

from . import preference_formats as _preference_formats  # noqa: F401  (registers the formats on import)
