"""Development and test peers: servers that receive what afterorder sends (they are not channels),
and the demo that drives them (``demo``: simulated stores on a fast clock; ``demo_reach``: their
customers on LINE and SMS)."""
