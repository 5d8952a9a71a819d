"""diet: EL2N and GraNd scores for pruning the training data of a fine-tuned BERT.

The pipeline, one plain function per arrow:
    load_task -> score (fine-tune with seeds, scores at steps) -> ScoresTable.mean -> select
    -> retrain (test accuracy per seed)
"""

from diet.config import TrainConfig
from diet.encoders import KNOWN_MODELS, load_encoder, load_tokenizer
from diet.errors import DietError
from diet.grad_norms import per_example_grad_norms
from diet.presets import PRESETS, Preset, get_preset
from diet.prune import class_fractions, select
from diet.retraining import retrain
from diet.scores import SCORES, register_score, score_examples
from diet.scores_table import ScoresTable
from diet.scoring import score
from diet.splits import Split
from diet.store import Store
from diet.tasks import TASKS, Task, load_task, register_task

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
