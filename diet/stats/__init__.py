"""Statistics with no knowledge of tasks or models: intervals, the seed rule, the one-class rule."""
