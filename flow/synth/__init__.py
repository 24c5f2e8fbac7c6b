"""The lab loop: run Vitis HLS and Vivado on a generated project where they are installed (tools.py), read
what they report (reports.py) and hold it against the model (compare.py)."""
