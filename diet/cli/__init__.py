"""The `diet` command line."""
