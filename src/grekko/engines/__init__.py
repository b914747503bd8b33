"""Engines: the kernel's moving parts, wired only through the message bus and ports."""
