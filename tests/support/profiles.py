"""Hypothesis profiles: ``fast``, the default, for a quick local run, and ``ci``, the long
runs, which ``.ci/run`` selects (``HYPOTHESIS_PROFILE=ci``; ``pytest
--hypothesis-profile=ci`` does the same).

Tests write their example counts for the ci profile and let the profile scale them:
``@settings(max_examples=examples(2000))`` draws 2,000 examples under ``ci`` and a
twentieth of them under ``fast``; a loop of random cases outside hypothesis takes its
count from :func:`examples` too. A test that pins no count draws 100 examples under ``ci``
(hypothesis' default) and 10 under ``fast``. The assertions are the same under both profiles, only the number of
cases differs.
"""

from __future__ import annotations

import os

from hypothesis import settings

#: The environment variable naming the profile (``fast`` when unset).
PROFILE_ENV = "HYPOTHESIS_PROFILE"
DEFAULT_PROFILE = "fast"
#: The examples of a test that pins none, under ``ci`` (hypothesis' own default) and ``fast``.
CI_MAX_EXAMPLES = 100
FAST_MAX_EXAMPLES = 10
#: The share of a pinned count that a profile drawing fewer examples than ``ci`` draws.
FAST_SHARE = 0.05

settings.register_profile("ci", max_examples=CI_MAX_EXAMPLES)
settings.register_profile(DEFAULT_PROFILE, max_examples=FAST_MAX_EXAMPLES)


def load_profile() -> str:
    """Load the profile named by ``HYPOTHESIS_PROFILE`` (``fast`` when unset) and return its
    name. ``--hypothesis-profile`` on pytest's command line is applied later and wins."""
    name = os.environ.get(PROFILE_ENV) or DEFAULT_PROFILE
    settings.load_profile(name)
    return name


def examples(ci_count: int, *, minimum: int = 5) -> int:
    """``ci_count`` under the ci profile (or any profile drawing as many examples by
    default); under a smaller profile :data:`FAST_SHARE` of it, never fewer than
    ``minimum`` and never more than ``ci_count``."""
    if settings.default.max_examples >= CI_MAX_EXAMPLES:
        return ci_count
    return min(ci_count, max(minimum, round(ci_count * FAST_SHARE)))
