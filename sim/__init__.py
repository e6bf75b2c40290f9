"""Simulation: Amaranth components to Verilog, built on Verilator or Icarus,
checked by cocotb testbenches against the golden models."""
