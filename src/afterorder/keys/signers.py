"""Each store's link signer: the key that signs its unsubscribe, preference, order-page, survey,
tracking and LINE-link links (``afterorder.signing``), opened from ``stores.signing_key`` as stored.

The key is a secret (whoever holds it can unsubscribe any customer of the store or read their order
page), so it is stored sealed with the installation's key like the other secrets
(``afterorder.keys.stored``); a value an older version stored in plain text is used as it is
until it is sealed at the next start.  Sealing changes how the key is stored, never the key: every
link already sent keeps working.

:class:`StoreSigners` is the one way from a store row to its :class:`~afterorder.signing.Signer`.
A key is opened once per process and kept by its stored value, so composing a message pays a dict
look-up, not a decryption (``bench/store_signers.py``), and a value re-sealed after a key rotation
is simply another entry.  ``SealError`` when a sealed key cannot be opened with the configured keys
(the web app answers 503 ``secret_key``).
"""

from __future__ import annotations

from typing import Protocol

from afterorder.keys.stored import SealerOf, open_value
from afterorder.signing import Signer

MAX_KEPT = 4096  # opened keys kept; past it the cache starts again (a few hundred bytes a store)


class KeyedStore(Protocol):
    """A store as far as its links are concerned (``db.stores.StoreRow`` is one)."""

    @property
    def signing_key(self) -> str: ...  # as stored: sealed, or plain from an older version


class StoreSigners:
    """Opens stores' signing keys with the installation's sealer (``None``: only plain keys can be used)."""

    def __init__(self, sealer: SealerOf | None) -> None:
        self._sealer = sealer
        self._opened: dict[str, Signer] = {}

    def of(self, store: KeyedStore) -> Signer:
        """The signer of ``store``'s links."""
        found = self._opened.get(store.signing_key)
        if found is None:
            if len(self._opened) >= MAX_KEPT:
                self._opened.clear()
            found = Signer(open_value(self._sealer, store.signing_key) or "")
            self._opened[store.signing_key] = found
        return found

