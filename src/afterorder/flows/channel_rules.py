"""Whether a flow's send steps can go out on the channels they name, for one store: checked when a
store switches a flow on (CLI, dashboard) and when ``serve`` starts, so a step that cannot be sent is
refused with its reason instead of failing message by message.

* a step naming a channel (``channel: line``, ``channels: [sms, email]``) needs the store to have set
  that channel up (``afterorder channels set``);
* China: the providers refuse review invitations, win-back and coupon pushes in marketing SMS, so a
  Chinese store's marketing SMS step carrying one is refused, naming LINE or email instead;
* Alibaba Cloud sends only approved templates: an SMS step of a store sending through ``aliyun_sms``
  needs an approved template code for its message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from afterorder.channels.aliyun_sms import template_codes
from afterorder.channels.base import ChannelKind
from afterorder.flows.spec import FlowSpec, Send

# What China's SMS providers will not carry in marketing SMS (their content rules for 营销短信).
CHINA_SMS_BANNED = {"review-request": "review invitations", "ugc-request": "review and photo invitations",
                    "win-back": "win-back offers"}


@dataclass(frozen=True)
class StoreChannels:
    country: str
    configured: frozenset[ChannelKind]
    providers: Mapping[ChannelKind, str]  # the primary provider of each configured channel
    settings: Mapping[ChannelKind, Mapping[str, Any]]  # its plain (not secret) options


def problems(flow: FlowSpec, store: StoreChannels) -> list[str]:
    """Every reason a send step of ``flow`` cannot go out for this store (empty: it can)."""
    found = []
    for n, step in enumerate(i for i in flow.program if isinstance(i, Send)):
        where = f"{flow.id}, message {n + 1} ({step.template})"
        for name in step.channels:
            channel = ChannelKind(name)
            if channel not in store.configured:
                found.append(f"{where}: is sent on {name}, which this store has not set up "
                             f"(afterorder channels set STORE PROVIDER ...)")
        if ChannelKind.SMS.value in step.channels:
            found.extend(f"{where}: {p}" for p in _sms_problems(step, store))
    return found


def _sms_problems(step: Send, store: StoreChannels) -> list[str]:
    found = []
    if store.country.upper() == "CN" and step.category == "marketing":
        banned = CHINA_SMS_BANNED.get(step.template) or ("coupon pushes" if step.coupon else None)
        if banned:
            found.append(f"China's SMS providers do not carry {banned} in marketing SMS: send it on LINE or by email")
    if store.providers.get(ChannelKind.SMS) == "aliyun_sms":
        if step.template not in template_codes(store.settings.get(ChannelKind.SMS, {})):
            found.append(f"Alibaba Cloud sends only approved templates: give the approved code of {step.template} "
                         f"(afterorder channels set STORE aliyun_sms --template {step.template}=SMS_...)")
    return found
