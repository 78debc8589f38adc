"""Tandem's pure domain: commands are decided into events, state is a fold of events.

Nothing in this package performs I/O, reads a clock or draws unseeded random numbers, so the same
code runs inside Temporal workflows (deterministically), in read-model rebuilds and in tests.
"""
