"""DKIM (RFC 6376): a per-store RSA key, its DNS record, and signing at send time.

Messages are signed when delivery hands them to the channel, not when they are queued: the
outbox keeps the bytes exactly as built (a retry resends them), a key that is added or rotated
applies to everything still queued, and the signature's timestamp is the send time.  The
signature is prepended to exactly the bytes the channel sends, so it verifies on what the
receiving server gets.  ``h=`` covers From, To, Subject, Date, Message-ID, List-Unsubscribe and
List-Unsubscribe-Post, those the message has; relaxed/relaxed canonicalization, so a server
that refolds headers does not break it.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime
from functools import lru_cache

import dkim
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from dkim.canonicalization import CanonicalizationPolicy

from afterorder.keys.stored import DkimKey

SIGNED_HEADERS = ("From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_SELECTOR = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")


class DkimError(ValueError):
    """A DKIM selector or domain that cannot be used; the message names it."""


def generate_key(selector: str, domain: str, bits: int = 2048) -> DkimKey:
    if not _SELECTOR.match(selector):
        raise DkimError(f"selector: {selector!r} is not a DNS label (letters, digits, '-')")
    if not _DOMAIN.match(domain):
        raise DkimError(f"domain: {domain!r} is not a domain name")
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode("ascii")
    return DkimKey(selector.lower(), domain.lower(), pem)


def public_key_base64(key: DkimKey) -> str:
    private = serialization.load_pem_private_key(key.private_key.encode("ascii"), password=None)
    der = private.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode("ascii")


def dns_name(key: DkimKey) -> str:
    return f"{key.selector}._domainkey.{key.domain}"


def dns_value(key: DkimKey) -> str:
    """The TXT record's value (publish it at :func:`dns_name`)."""
    return f"v=DKIM1; k=rsa; p={public_key_base64(key)}"


def dns_record(key: DkimKey) -> str:
    """A zone-file line; the value is split into 255-byte strings as TXT records require."""
    value = dns_value(key)
    chunks = " ".join(f'"{value[i:i + 255]}"' for i in range(0, len(value), 255))
    return f"{dns_name(key)}. IN TXT ( {chunks} )"


def _present(message: bytes) -> list[bytes]:
    head = message.split(b"\r\n\r\n", 1)[0]
    names = {line.split(b":", 1)[0].strip().lower() for line in head.split(b"\r\n")
             if line and line[:1] not in (b" ", b"\t") and b":" in line}
    return [h.encode() for h in SIGNED_HEADERS if h.lower().encode() in names]


@lru_cache(maxsize=64)
def _private_key(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise DkimError("the stored DKIM key is not an RSA key")
    return key


def sign(message: bytes, key: DkimKey, now: datetime | None = None) -> bytes:
    """``message`` with a ``DKIM-Signature`` header in front (CRLF line ends, folded lines).

    dkimpy parses, canonicalizes (relaxed/relaxed), selects the signed headers and folds, exactly
    as its own ``dkim.sign``; the RSA signature itself is made by OpenSSL (``cryptography``), about
    ten times faster than dkimpy's pure-Python RSA."""
    headers, body = dkim.rfc822_parse(message)
    include = tuple(h.lower() for h in _present(message))
    policy = CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")
    domain, selector = key.domain.encode("ascii"), key.selector.encode("ascii")
    stamp = int((now or datetime.now(UTC)).timestamp())
    fields = [
        (b"v", b"1"), (b"a", b"rsa-sha256"), (b"c", b"relaxed/relaxed"), (b"d", domain), (b"i", b"@" + domain),
        (b"q", b"dns/txt"), (b"s", selector), (b"t", str(stamp).encode("ascii")), (b"h", b" : ".join(include)),
        (b"bh", base64.b64encode(hashlib.sha256(policy.canonicalize_body(body)).digest())),
        (b"b", b"0" * 60),  # as dkimpy: b= starts on a line of its own, so folding it later changes nothing else
    ]
    name = b"DKIM-Signature"
    unsigned = dkim.RE_BTAG.sub(b"\\1", dkim.fold(b"; ".join(b"=".join(f) for f in fields), namelen=len(name),
                                                    linesep=b"\r\n"))
    hasher = hashlib.sha256()
    dkim.hash_headers(hasher, policy, policy.canonicalize_headers(headers), include, (name, b" " + unsigned), None)
    signature = _private_key(key.private_key).sign(hasher.digest(), padding.PKCS1v15(),
                                                   Prehashed(hashes.SHA256()))
    fields[-1] = (b"b", base64.b64encode(signature))
    value = bytes(dkim.fold(b"; ".join(b"=".join(f) for f in fields) + b"\r\n", namelen=len(name),
                            linesep=b"\r\n"))
    return name + b": " + value + message
