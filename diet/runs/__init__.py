"""Stored jobs: the store, locks, and the scoring, retraining and dynamics runs."""
