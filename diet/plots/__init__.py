"""Matplotlib figures for the notebooks."""
