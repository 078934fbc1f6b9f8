"""Receipts: one receipt model rendered as plain text (and, with the lane, ESC/POS)."""
