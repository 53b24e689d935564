"""A/B tests on a flow's send step: variants and their split (``model``, ``split``), the
significance test and the automatic winner (``significance``), storage (``records``); what each
variant did and the verdict are reported with the other metrics (``analytics.abtests``)."""
