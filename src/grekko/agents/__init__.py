"""Agents and strategies: whatever decides what to trade."""
