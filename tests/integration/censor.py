"""Inline censor simulator (being written)."""
