"""Adapters: the edge of Grekko, one folder per external system, each implementing a port."""
