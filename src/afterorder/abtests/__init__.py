"""A/B tests on a flow's send step: variants and their split (``model``, ``split``), the
significance test and the automatic winner (``significance``), storage and results (``tests``,
``results``)."""
