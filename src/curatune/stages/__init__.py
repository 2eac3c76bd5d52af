"""The stages: each verb of the loop as a thin orchestration over the library below it.

A stage resolves its paths from the run-folder layout (:mod:`curatune.run_folder`), decides with its
key whether to run at all (:mod:`.keys`), calls the library (:mod:`curatune.train`,
:mod:`curatune.evaluate`, :mod:`curatune.split`, :mod:`curatune.report`, ...) with explicit paths and
its own recipe section, and writes its own part of the run folder:

- :mod:`.curate` (and :mod:`.select`, a curate run with two steps): the folder's top, ``data/``, the ledger;
- :mod:`.split`: ``splits/``; :mod:`.lr_find`: ``lr_find/``; :mod:`.tune`: ``tune/``;
  :mod:`.train`: ``train/``; :mod:`.eval`: ``eval/``; :mod:`.report`: ``report.html``;
- :mod:`.loop`: ``curatune run``, the stages in order; :mod:`.explain`, :mod:`.compare`: read run folders;
  :mod:`.demo`: the loop twice on a generated task.
"""
