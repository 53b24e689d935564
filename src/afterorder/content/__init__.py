"""Localized message rendering: subject, HTML and text from templates and plain snapshots."""

from afterorder.content.i18n import resolve_locale
from afterorder.content.render import Renderer

__all__ = ["Renderer", "resolve_locale"]
