"""Errors of the members room that a person (or the lane's code) can act on.

Owns only error types; a refusal at the lane is not an error but a `Refusal` value.
"""

from __future__ import annotations

from gateway.errors import StoregateError


class MembersError(StoregateError):
    """The members API was called in a way that cannot be carried out (e.g. a change id
    re-used for a different change, or a balance change written outside the journal)."""
