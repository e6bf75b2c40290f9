"""FPGA builds with the open YoWASP flow: out-of-context synthesis of single
components for benchmarks, and (later) full board tops."""
