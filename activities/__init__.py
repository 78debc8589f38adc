"""Temporal activities: all I/O (event store, notifications, Temporal updates from simulations)."""
