"""LINE Messaging API.

⚠ MINIMAL STAND-IN, written on the ``feedback`` branch: only :func:`issue_link_token`, so the
account-link flow (``feedback/line_link.py``) can be built and tested before the LINE channel
(written on another branch, with this same function and signature) is merged.  When that branch
lands, its ``channels/line.py`` replaces this file whole.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx


async def issue_link_token(client: httpx.AsyncClient, api_base: str, channel_access_token: str, user_id: str) -> str:
    """``POST /v2/bot/user/{userId}/linkToken``: a link token for that user (valid 10 minutes, once).

    Raises ``httpx.HTTPError`` when LINE cannot be reached or refuses, ``ValueError`` when its
    answer holds no token."""
    response = await client.post(f"{api_base.rstrip('/')}/v2/bot/user/{quote(user_id, safe='')}/linkToken",
                                 headers={"Authorization": f"Bearer {channel_access_token}"})
    response.raise_for_status()
    token = response.json().get("linkToken")
    if not isinstance(token, str) or not token:
        raise ValueError("LINE answered without a linkToken")
    return token
