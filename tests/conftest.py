"""Shared pytest configuration.

Hypothesis runs with a fixed profile so CI is reproducible: derandomized,
no deadline (2 shared cores make wall-clock deadlines flaky).
"""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "zipcore", derandomize=True, deadline=None, max_examples=100,
    suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("zipcore")
