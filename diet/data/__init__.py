"""Tasks: splits, named and local tasks, the mirror, label noise, inspection.

Importing the package registers the named tasks (ag_news, sst2, mnli: `named_tasks`) in `task.TASKS`.
"""

from diet.data import named_tasks  # noqa: F401 (registers the named tasks)
