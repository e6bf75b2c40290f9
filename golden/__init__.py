"""Zipcore golden models: NumPy reference implementations of every compression
algorithm the hardware runs. These functions are the specification the RTL is
verified against; they know nothing about hardware (except ``golden.hwmodel``,
which is bit-exact by design)."""
