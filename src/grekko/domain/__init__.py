"""The pure trading model: no I/O, no clocks of its own, no frameworks."""
