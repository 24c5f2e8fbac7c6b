"""HLS C++ templates (header-only, Vitis HLS): vitflow/ holds the engines and the accelerator top,
tb/ the C-simulation testbench. Every template parameter is documented at the top of its header."""
