"""afterorder: post-purchase and lifecycle messaging engine."""
