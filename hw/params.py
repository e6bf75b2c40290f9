"""Parameter validation for components.

Amaranth warns about an elaboratable that is created and never used; a
component whose ``__init__`` rejects its parameters was never meant to be
used, so ``reject`` silences that warning before raising.
"""

__all__ = ["reject", "require_int"]


def reject(component, message: str, exc=TypeError):
    """Raise ``exc(message)`` from a component's ``__init__``."""
    component._MustUse__silence = True
    raise exc(message)


def require_int(component, name: str, value, lo: int, hi: int):
    """``reject`` unless ``value`` is an integer in ``lo..hi``."""
    if not isinstance(value, int) or not lo <= value <= hi:
        reject(component, f"{name} must be an integer in {lo}..{hi}, not {value!r}")


#: ``Memory(..., attrs=COLLISION_FREE)``: the design never reads a word in the
#: cycle it is written, or never uses what such a read returns (the accumulator
#: pipeline forwards the sums it writes). RTL simulation still returns the old
#: word, but synthesis may return anything: ``boards.synth.collisions_dont_care``
#: marks these memories' read ports so, which spares the flip-flops and
#: multiplexers Yosys otherwise spends on iCE40 block RAM to make a read
#: during a write return the old word.
COLLISION_FREE = {"no_rw_check": 1}
