"""Estimates before synthesis: cycles per layer from the templates' loop structure (cycles.py)."""
