"""The steps of `flow build`, one module per pipeline stage; flow/pipeline.py lists and runs them."""
