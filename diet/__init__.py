"""diet: EL2N and GraNd scores for pruning the training data of a fine-tuned BERT.

The pipeline, one plain function per arrow:
    load_task -> score (fine-tune with seeds, scores at steps) -> ScoresTable.mean -> select
    -> retrain (test accuracy per seed)

This is the stable surface for your own pruning work (the book's page "The Python API" lists it);
the paper's experiments are in `diet.paper`, everything else is internal and may move.
"""

from diet.data.task import Task, register_task
from diet.data.tasks import load_task
from diet.errors import DietError
from diet.model.config import TrainConfig
from diet.prune.select import select
from diet.runs.retraining import retrain
from diet.runs.scoring import score
from diet.runs.store import Store
from diet.scores.registry import SCORES, register_score, score_examples
from diet.scores.table import ScoresTable

__all__ = [
    "DietError",
    "SCORES",
    "ScoresTable",
    "Store",
    "Task",
    "TrainConfig",
    "load_task",
    "register_score",
    "register_task",
    "retrain",
    "score",
    "score_examples",
    "select",
]
__version__ = "0.1.0"
