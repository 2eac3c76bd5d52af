"""The contract every registered step keeps (scikit-learn's test_common): adding a step adds its tests.

Parametrised over ``curatune.curation.registry.all_steps()``, so steps added by anyone are picked up.
The checks are :func:`curatune.testing.check_step`, the function people writing their own steps call
in their tests. A step that cannot build from pure defaults (it needs a model or an eval set given by
path) sets ``contract_params`` on its class: the parameters used here instead of the defaults.
"""

from __future__ import annotations

import pytest

from curatune.curation.registry import all_steps
from curatune.testing import check_step

STEPS = all_steps()


def test_steps_are_registered():
    assert "filter.min_length" in STEPS and "dedup.exact" in STEPS


@pytest.mark.parametrize("name", list(STEPS))
def test_step_keeps_the_contract(name):
    """Declaration, defaults and YAML round trip, pickling, declared reasons, in == kept + dropped, determinism, empty in."""
    check_step(STEPS[name])
