"""Members: loyalty points, stored value (subsidy and cash wallets), limits, the lost-card
blacklist and the offline policy, from head office's members document.

Modules: `document` (the pushed document and its JSON Schema), `cards` (card keys, masking,
payment-card detection), `rules` (pure rules: refusals, limits, wallets, points), `store`
(the member_* tables), `accounts` (the lane's API and the `member_balance` journal
entries), `sink` (sync's DocumentSink: import it from `gateway.members.sink`, so the
lane's use of this package never pulls in sync). Owns the member_* tables and no other table; writes
the journal only through the `also` of entries the caller appends.

The lane's calls, in order: `identify(card_read)` -> Account | Refusal;
`pricing_context(account)`; `authorise(account, tender, amount, at, link, earlier)` ->
Authorisation | Refusal; at completion `points_earned(account, priced)` and
`postings(sale_id, account, authorisations, earned, at)` appended with the sale.
"""

from gateway.members.accounts import KIND, BalancePosting, MemberAccounts
from gateway.members.cards import card_key, looks_like_payment_card, mask_card
from gateway.members.document import (
    MembersDocument,
    MembersDocumentError,
    json_schema,
    parse_document,
)
from gateway.members.errors import MembersError
from gateway.members.rules import Account, Authorisation, Debit, LinkState, Refusal, Spending
from gateway.members.store import AppliedDocument, MemberStore

__all__ = [
    "KIND",
    "Account",
    "AppliedDocument",
    "Authorisation",
    "BalancePosting",
    "Debit",
    "LinkState",
    "MemberAccounts",
    "MemberStore",
    "MembersDocument",
    "MembersDocumentError",
    "MembersError",
    "Refusal",
    "Spending",
    "card_key",
    "json_schema",
    "looks_like_payment_card",
    "mask_card",
    "parse_document",
]
