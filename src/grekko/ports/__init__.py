"""Ports: the Protocols engines depend on; adapters implement them at the edge."""
