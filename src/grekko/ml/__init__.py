"""Machine learning: models and scorers the agents use (sentiment first)."""
