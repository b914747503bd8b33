"""Grekko: a self-hosted trading platform whose one kernel runs backtest, paper and live."""

__version__ = "0.1.0"
