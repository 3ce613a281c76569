"""Figures (matplotlib, non-interactive): parity plots and other report graphics."""
