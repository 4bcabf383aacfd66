"""The role checks, written once: who reads images and who runs the department.

Every view, service, consumer and access function asks these two functions;
nothing else tests ``role`` or the ``User`` properties behind them. Both take
anything a request or scope may hold as its user (``None``, an anonymous user,
a deactivated one) and answer ``False`` for it.
"""

from __future__ import annotations


def _signed_in(user) -> bool:
    return user is not None and bool(getattr(user, "is_authenticated", False))


def is_clinical(user) -> bool:
    """Active attendings and residents: they read patient images and studies."""
    return _signed_in(user) and bool(getattr(user, "is_clinical", False))


def is_department_admin(user) -> bool:
    """Active department admins (and superusers): they run people and the workflow."""
    return _signed_in(user) and bool(getattr(user, "is_department_admin", False))
