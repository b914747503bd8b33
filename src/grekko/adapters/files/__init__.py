"""Market data files on disk: bar and trade files in the ../shared/data formats."""
