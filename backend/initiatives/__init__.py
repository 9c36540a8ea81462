"""Initiatives (SPEC §4): improvement work, prioritised by RICE, measured by its outcome."""
