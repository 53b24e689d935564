"""Tracking: signed click and open links, UTM parameters, engagement events, attribution."""
