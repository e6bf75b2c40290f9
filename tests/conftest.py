"""Shared pytest configuration.

Hypothesis runs with a fixed profile so CI is reproducible: derandomized,
no deadline (2 shared cores make wall-clock deadlines flaky).
"""

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "zipcore", derandomize=True, deadline=None, max_examples=100,
    suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("zipcore")


@pytest.fixture(scope="session")
def digits_zcm(tmp_path_factory):
    """The default compressed digits model (``zipcore compress builtin:digits-mlp``),
    made once per test process."""
    from zipcore.cli import main  # noqa: PLC0415

    path = tmp_path_factory.mktemp("digits") / "digits-mlp.zcm"
    assert main(["compress", "builtin:digits-mlp", "-o", str(path), "-q"]) == 0
    return path
