"""Finding an item without a barcode: by name, by PLU, or by the pinyin initials of a
Chinese name (可口可乐 is `kkkl`), for the cashier screen's search dialog.

Pure: reads the catalog in force, writes nothing. The index (each product's folded name,
words and initials) is made at the first search of a catalog and kept on it (a catalog
never changes; a new one starts a new index). Initials come from `pypinyin`, which reads
phrases whole, so a character with two readings takes the one its phrase has (重庆 is
`cq`, not `zq`).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from gateway.catalog.catalog import Catalog
from gateway.catalog.document import Product

SEARCH_LIMIT = 12  # what the dialog lists: more than a screen's worth is a query to narrow


@dataclass(frozen=True)
class Entry:
    """One product as the search reads it."""

    product: Product
    name: str  # folded: lower case, accents gone ("gruyère" -> "gruyere")
    words: tuple[str, ...]
    initials: str  # pinyin initials of its Chinese characters, first letters of other words
    plu: str


def fold(text: str) -> str:
    """Lower case without accents, so `gruyere` finds Gruyère."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _is_han(char: str) -> bool:
    return "\u3400" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff"


def initials(name: str) -> str:
    """可口可乐 330ml -> `kkkl3`: a letter per Chinese character (its pinyin's first), and
    the first character of every other word."""
    from pypinyin import Style, lazy_pinyin  # a dependency: imported when a name needs it

    out: list[str] = []
    for chunk in lazy_pinyin(name, style=Style.FIRST_LETTER, errors=lambda text: text):
        if len(chunk) == 1 and chunk.isalpha() and chunk.isascii():
            out.append(chunk)  # one character's initial (or a one-letter word)
            continue
        out.extend(word[0] for word in fold(chunk).split() if word[0].isalnum())
    return "".join(out).lower()


def _entry(product: Product) -> Entry:
    name = fold(product.name)
    has_han = any(_is_han(c) for c in product.name)
    return Entry(
        product,
        name,
        tuple(name.split()),
        initials(product.name) if has_han else "",
        product.plu or "",
    )


def index(catalog: Catalog) -> list[Entry]:
    """The catalog's search index, made once (kept on the immutable catalog)."""
    if not catalog.search_index and catalog.products:
        catalog.search_index.extend(_entry(p) for p in catalog.products.values())
    return catalog.search_index


def _rank(entry: Entry, query: str) -> int | None:
    """How well `entry` matches (lower is better), or None."""
    if query.isdigit() and entry.plu:
        if entry.plu == query:
            return 0
        if entry.plu.startswith(query):
            return 1
    if entry.name.startswith(query) or entry.initials == query:
        return 2
    if any(word.startswith(query) for word in entry.words) or entry.initials.startswith(query):
        return 3
    if query in entry.name or (entry.initials and query in entry.initials):
        return 4
    return None


def search(catalog: Catalog, query: str, limit: int = SEARCH_LIMIT) -> tuple[Product, ...]:
    """Products matching `query`, best first: an exact PLU, PLUs starting with it, names
    or pinyin initials starting with it, a word starting with it, then names containing
    it; ties by name. Several words must all match (`milk lac`)."""
    terms = fold(query).split()
    if not terms:
        return ()
    found: list[tuple[int, str, Product]] = []
    for entry in index(catalog):
        ranks = [_rank(entry, term) for term in terms]
        if all(r is not None for r in ranks):
            found.append((max(r for r in ranks if r is not None), entry.name, entry.product))
    found.sort(key=lambda hit: (hit[0], hit[1]))
    return tuple(product for _, _, product in found[:limit])
