"""Backtesting: historical data files, the time-ordered feed, the runner and its results."""
