"""Receiving (进货) and stock counting (盘点) at the box: the session core, its records and
the purchase orders head office pushes (docs/stock.md, "Box side")."""
