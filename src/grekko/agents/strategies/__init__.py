"""Built-in strategies, one per module, registered as entry points like any plugin."""
