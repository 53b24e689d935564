"""Sending marketing lawfully and deliverably: consent and its record, the store's marketing rule,
unsubscribe links and headers (RFC 8058), the legal footer, DKIM, caps and quiet hours, and
suppression (bounces, complaints, unsubscribes: :mod:`afterorder.compliance.suppression`).

Delivery asks :mod:`afterorder.compliance.gate` whether a message may go now; the scheduler asks
:mod:`afterorder.compliance.message` how a message must be rendered (promotions, footer, headers).
"""
