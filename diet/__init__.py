"""diet: EL2N and GraNd scores for pruning the training data of a fine-tuned BERT.

The pipeline, one plain function per arrow:
    load_task -> score (fine-tune with seeds, scores at steps) -> ScoresTable.mean -> select
    -> retrain (test accuracy per seed)
"""

from diet.model.config import TrainConfig
from diet.model.encoders import KNOWN_MODELS, load_encoder, load_tokenizer
from diet.errors import DietError
from diet.scores.grad_norms import per_example_grad_norms
from diet.paper.presets import PRESETS, Preset, get_preset
from diet.prune.select import class_fractions, select
from diet.runs.retraining import retrain
from diet.scores.registry import SCORES, register_score, score_examples
from diet.scores.table import ScoresTable
from diet.runs.scoring import score
from diet.data.splits import Split
from diet.runs.store import Store
from diet.data.tasks import load_task
from diet.data.task import TASKS, Task, register_task

__all__ = [
    "KNOWN_MODELS",
    "PRESETS",
    "SCORES",
    "TASKS",
    "DietError",
    "Preset",
    "ScoresTable",
    "Split",
    "Store",
    "Task",
    "TrainConfig",
    "class_fractions",
    "get_preset",
    "load_encoder",
    "load_task",
    "load_tokenizer",
    "per_example_grad_norms",
    "register_score",
    "register_task",
    "retrain",
    "score",
    "score_examples",
    "select",
]
__version__ = "0.1.0"
