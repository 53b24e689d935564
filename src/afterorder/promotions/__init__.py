"""What a marketing message may offer: coupons (issued per run step, redeemed by orders) and product
recommendations computed from the store's own orders and catalog."""
