"""Localized message rendering: an email (subject, HTML, text), a LINE card or an SMS, from templates and
plain snapshots."""

from afterorder.content.i18n import resolve_locale
from afterorder.content.line import LineRendered
from afterorder.content.render import Renderer
from afterorder.content.sms import SmsRendered

__all__ = ["LineRendered", "Renderer", "SmsRendered", "resolve_locale"]
