"""Surveys (NPS, the profile survey): ``answers`` stores an answer and turns it into an event, customer
properties and, for a detractor, the store's alert; ``text`` is the words of their pages, which
``web/surveys.py`` serves."""
