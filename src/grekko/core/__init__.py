"""Foundations with no dependencies: ids, money, time, errors."""
