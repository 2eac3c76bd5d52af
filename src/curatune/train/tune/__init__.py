"""Hyperparameter search with Optuna: the library under ``curatune tune`` (:mod:`curatune.stages.tune`).

```
tune/
  study.db                     the Optuna study (SQLite): a rerun resumes it
  trial-<n>/train/             each trial's run folder, with its training folder as ``curatune train`` writes it
  trials.csv                   one row per trial: state, validation loss, sampled values, steps trained, seconds
  best_recipe.yaml             the recipe with the best trial's values in train: and no tune: section
  optimization_history.png     validation loss per trial, best so far
  param_importances.png        which sampled values mattered (fANOVA; needs two completed trials)
  report.md                    the best configuration, every trial, the plots
  summary.json                 the same, for programs
```

- :mod:`.study`: the study opened with its sampler and pruner, the budget, retries, the same-settings check;
- :mod:`.objective`: one trial, the recipe's ``train:`` with the sampled values put in, trained by the
  train stage in its own run folder; its validation loss is reported to the pruner at every evaluation
  (the n-th evaluation of one trial is compared with the n-th of the others); a trial the pruner stops
  leaves a ``pruned.json`` and no checkpoints, never a folder that looks finished;
- :mod:`.workers`: the trials in this process or in worker processes sharing the study;
- :mod:`.parent_run`: with tracking on, one MLflow run for the search, every trial's nested under it
  (the same parent across reruns of the study);
- :mod:`.outputs`: what the search leaves.
"""
