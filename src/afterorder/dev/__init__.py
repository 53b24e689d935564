"""Development and test peers: servers that receive what afterorder sends (they are not channels)."""
