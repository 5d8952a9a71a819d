"""Stored jobs: the store, locks, the job protocol (jobs.StoredJob) and the scoring, retraining, dynamics and predictions runs."""
