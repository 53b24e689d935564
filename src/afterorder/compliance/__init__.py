"""What may be sent to whom: suppression (bounces, complaints, unsubscribes)."""
