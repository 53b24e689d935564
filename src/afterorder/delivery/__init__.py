"""Delivery: the outbox's messages, claimed, checked and handed to the provider of their channel."""

from afterorder.delivery.claims import INTERRUPTED, Claimed
from afterorder.delivery.worker import Delivery, DeliverySettings

__all__ = ["INTERRUPTED", "Claimed", "Delivery", "DeliverySettings"]
