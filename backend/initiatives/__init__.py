"""Initiatives: improvement work, prioritised by RICE, measured by its outcome."""
