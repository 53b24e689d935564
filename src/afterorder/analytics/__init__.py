"""Analytics over a store's history: retention metrics and product repurchase cycles."""
