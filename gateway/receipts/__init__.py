"""Receipts: one model (`model.Receipt`, built from a committed journal record) rendered as
plain text (`text`, 32/42/48 columns, CJK double width) and ESC/POS bytes (`escpos`).

Pure: reads records and settings values, writes nothing and opens no printer; the daemon
sends the bytes. `text.render_quote` renders `gateway quote`'s priced baskets.
"""
