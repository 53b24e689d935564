"""Privacy: a customer's data rights (``data_rights``: export everything held about them, erase
their personal data while the store's aggregates stay; ``web/data_rights.py`` serves them over the
API and ``afterorder customer export|erase`` on the command line) and their consent confirmed by
double opt-in (``double_opt_in``: the confirmation mail queued for a pending "yes")."""
