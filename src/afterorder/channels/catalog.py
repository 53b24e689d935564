"""Every provider afterorder can send through, by name (the module's name): the registry's table."""

from __future__ import annotations

from afterorder.channels import aliyun_sms, line, postmark, sendgrid, ses, smtp, twilio
from afterorder.channels.options import OptionsError, Provider

PROVIDERS: dict[str, Provider] = {p.name: p for p in (
    smtp.PROVIDER, ses.PROVIDER, sendgrid.PROVIDER, postmark.PROVIDER,
    line.PROVIDER, twilio.PROVIDER, aliyun_sms.PROVIDER,
)}


def provider(name: str) -> Provider:
    found = PROVIDERS.get(name)
    if found is None:
        raise OptionsError(f"unknown provider {name!r}; providers: {', '.join(PROVIDERS)}", {"provider": "unknown"})
    return found
