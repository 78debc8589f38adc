"""Temporal workflows: orchestration only. Every rule is decided by ``domain``."""
