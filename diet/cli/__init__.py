"""The `diet` command line: main.py dispatches; one module per command (tasks, score, prune, train, run, plan,
precompute, book) owns its parser and handler; options.py holds the options several share, checks.py the checks."""
