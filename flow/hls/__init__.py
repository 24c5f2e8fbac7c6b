"""HLS stage: the integer program packed into the accelerator's memory image, the Vitis HLS project
around the templates in hls_templates/, and C-simulation with g++ and the open ap_types headers."""
