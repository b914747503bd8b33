"""The simulated venue `paper`: one matching simulator for backtest and paper trading."""
