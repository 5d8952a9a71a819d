"""The job plan of a preset and the executors that fill it (in process, local workers, Ray)."""
