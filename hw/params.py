"""Parameter validation for components.

Amaranth warns about an elaboratable that is created and never used; a
component whose ``__init__`` rejects its parameters was never meant to be
used, so ``reject`` silences that warning before raising.
"""

__all__ = ["reject"]


def reject(component, message: str, exc=TypeError):
    """Raise ``exc(message)`` from a component's ``__init__``."""
    component._MustUse__silence = True
    raise exc(message)
