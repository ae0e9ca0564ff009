"""Data and helpers for the sync tests."""
