"""Hypothesis profiles for the fuzz tests.

``ci`` (the default): a modest number of examples, derandomized (a fixed seed), so CI on a busy
2-core machine runs the same examples every time in well under a minute. ``deep``: many more
examples, random, for a run by hand: ``INTAKE_FUZZ_PROFILE=deep python3 -m pytest tests/fuzz``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

_COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
           "print_blob": True}
settings.register_profile("ci", max_examples=40, derandomize=True, database=None, **_COMMON)
settings.register_profile("deep", max_examples=1000, **_COMMON)
# Find fast, minimise later: ``INTAKE_FUZZ_PROFILE=triage`` reports the first failure unshrunk.
settings.register_profile("triage", max_examples=200, phases=[Phase.explicit, Phase.generate], **_COMMON)
settings.load_profile(os.environ.get("INTAKE_FUZZ_PROFILE", "ci"))
