"""Delivery: the outbox's messages, claimed, checked and handed to the provider of their channel."""

from afterorder.delivery.worker import INTERRUPTED, Claimed, Delivery, DeliverySettings

__all__ = ["INTERRUPTED", "Claimed", "Delivery", "DeliverySettings"]
