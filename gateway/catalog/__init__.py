"""The catalog: products, tax classes, categories, promotions and the store's money rules.

`document` validates the JSON document head office publishes; `catalog` is the indexed,
immutable in-memory form the pricing engine reads; `store` keeps the document in force in
the box's SQLite file. Pure except `store`.
"""

from gateway.catalog.catalog import Catalog, load_catalog_file
from gateway.catalog.document import CatalogDocument, CatalogError

__all__ = ["Catalog", "CatalogDocument", "CatalogError", "load_catalog_file"]
