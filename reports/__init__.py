"""Energy and area estimates and readable reports comparing dense and
compressed models (45 nm per-operation energies, FPGA utilisation)."""
