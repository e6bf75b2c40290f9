"""Zipcore gateware (Amaranth 0.5): one ``wiring.Component`` per file, stream
ports from ``amaranth.lib.stream``, each matched by a golden model."""
