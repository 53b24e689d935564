"""The thank-you page block: a small script a store embeds on its own order-confirmation page
(``/w/{store}.js``), the data it shows (``block``), what the customer can do there (``answers``), its
words (``text``) and the shop origins it answers (``origins``).  The HTTP side is ``web/thank_you.py``."""
