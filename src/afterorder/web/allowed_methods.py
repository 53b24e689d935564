"""The ``Allow`` header of a 405: every method some route serves at the requested path.

Starlette answers 405 with the methods of the first route whose path matched, and the app's
exception handler dropped even those, so ``OPTIONS /api/v1/segments/x`` said nothing (then
``Allow: PUT``) though GET and DELETE are served there too (RFC 9110 §15.5.6: a 405 lists the
methods the target resource supports).  ``allowed_methods`` asks every route of the app, through
``BaseRoute.matches`` only, so routers included into the app are asked too.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.routing import BaseRoute, Match
from starlette.types import Scope

# the order RFC 9110 lists them in, so the header reads the same every time
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(routes: Iterable[BaseRoute], scope: Scope) -> list[str]:
    """The methods of ``METHODS`` some route serves at ``scope``'s path."""
    candidates = list(routes)
    return [method for method in METHODS
            if any(route.matches({**scope, "method": method})[0] is Match.FULL for route in candidates)]
