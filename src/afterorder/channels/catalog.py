"""Every provider afterorder can send through, by name (the module's name): the registry's table."""

from __future__ import annotations

from afterorder.channels import aliyun_sms, line, postmark, sendgrid, ses, smtp, twilio
from afterorder.channels.options import OptionsError, Provider

PROVIDERS: dict[str, Provider] = {p.name: p for p in (
    smtp.PROVIDER, ses.PROVIDER, sendgrid.PROVIDER, postmark.PROVIDER,
    line.PROVIDER, twilio.PROVIDER, aliyun_sms.PROVIDER,
)}


def provider(name: str) -> Provider:
    """The provider called ``name``; ``OptionsError`` (field ``provider``) lists the known ones."""
    found = PROVIDERS.get(name)
    if found is None:
        same_channel = [p.name for p in PROVIDERS.values() if p.channel.value == name]
        hint = f"{name} is a channel; its providers: {', '.join(same_channel)}" if same_channel else ""
        known = f"providers: {', '.join(PROVIDERS)}"
        raise OptionsError(f"unknown provider {name!r}; {hint or known}", {"provider": f"unknown; {hint or known}"})
    return found
