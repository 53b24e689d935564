"""Email service providers' bounce and complaint webhooks: one adapter per provider (verify the
request, read its payload), all normalised into :class:`~afterorder.esp.base.Bounce`."""
