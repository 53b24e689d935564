"""Local servers that speak the providers' wire formats (LINE, Twilio, Alibaba Cloud SMS, SES, SendGrid,
Postmark; and Ecwid's REST API and EC-CUBE's Web API, which afterorder reads orders from): they check a
request the way the provider does (path, auth, signature, body) and answer with the provider's own success
and error bodies.  ``make demo`` shows what they receive; tests and ``make bench`` send to them.  One module
per provider, the same names as ``channels/`` (``ecwid`` and ``eccube`` as in ``intake/``)."""
