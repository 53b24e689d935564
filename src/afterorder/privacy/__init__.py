"""Privacy: a customer's data rights (``data_rights``: export everything held about them, erase
their personal data while the store's aggregates stay); ``web/data_rights.py`` serves them over the
API and ``afterorder customer export|erase`` on the command line."""
