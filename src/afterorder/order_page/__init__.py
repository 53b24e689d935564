"""The customer's order page, ``/o/{store}/{token}``: its signed links (``links``), what it shows
(``view``) and its words (``text``).  The web routes are ``afterorder.web.order_page``."""
