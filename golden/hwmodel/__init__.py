"""Bit-exact models of what the Zipcore hardware computes.

Unlike the rest of ``golden``, these functions are hardware-aware by design:
they fix integer widths, wrap-around and the order of operations so that the
RTL can be compared with them bit for bit.
"""
