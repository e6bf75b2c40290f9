"""cocotb testbench modules, imported by name inside the simulator process."""
