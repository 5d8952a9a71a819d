"""Named parameter sets (smoke, quick, first-look, cpu, gpu, paper): the one place where run sizes live."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from diet.model.config import TrainConfig
from diet.errors import DietError, did_you_mean


@dataclass(frozen=True)
class Preset:
    """Everything a figure notebook or `diet run` needs besides the code."""

    name: str
    description: str
    task: str
    model: str
    n_train: int | None
    n_test: int | None
    train: TrainConfig
    score_seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    retrain_seeds: tuple[int, ...] = (0, 1, 2)
    steps: tuple[str, ...] = ("0", "0.25ep", "0.5ep", "1ep", "1.5ep", "2ep")  # score timing (figures 1, 2)
    final_step: str = "1ep"  # the step whose scores prune in figures 3-5 (the paper: after one epoch)
    timing_scores: tuple[str, ...] = ("el2n", "grand_head")
    scores: tuple[str, ...] = ("el2n", "grand_head", "grand_full")
    timing_fractions: tuple[float, ...] = (0.5, 0.7)
    fractions: tuple[float, ...] = (0.3, 0.5, 0.7, 0.9)
    offset_keep: float = 0.7
    offsets: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.3)
    offset_windows: tuple[str, ...] = ("fixed", "shrinking")  # figure 4's readings: ranks [k, k+keep) and/or [k, keep)
    offset_scores: tuple[str, ...] = ()  # the scores figure 4 ranks by; empty: `scores`
    noise: float = 0.1
    noise_retrain: bool = True  # figure 5: also retrain after removing the top-scored noisy examples
    data_seed: int = 0
    grand_method: str = "ghost"
    tasks: tuple[str, ...] = ()  # the tasks the book shows (`diet book` without --task); empty: just `task`
    dynamics: bool = False  # the book shows the training-dynamics scores: figure 5's data map and the "Which score?" chapter
    dynamics_per_epoch: int = 8  # checkpoints per epoch of the training-dynamics records (diet.runs.dynamics)
    compare_scores: tuple[str, ...] = ("el2n", "grand_head", "grand_full", "loss", "forgetting", "low_confidence", "variability", "neg_aum")
    compare_fractions: tuple[float, ...] = (0.5, 0.7)  # "Which score?": the kept fractions each score is retrained at

    @property
    def book_tasks(self) -> tuple[str, ...]:
        """The tasks a book of this preset shows, one part each: `tasks`, or `(task,)` when it is empty."""
        return self.tasks or (self.task,)

    def with_overrides(self, **changes) -> "Preset":
        """A copy with the given fields changed; None values are ignored (papermill defaults)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        train_fields = set(TrainConfig.__dataclass_fields__)
        train_changes = {k: changes.pop(k) for k in list(changes) if k in train_fields}
        unknown = set(changes) - set(self.__dataclass_fields__)
        if unknown:
            raise DietError(f"unknown preset fields {sorted(unknown)}; known: {sorted(set(self.__dataclass_fields__) | train_fields)}")
        for key in ("score_seeds", "retrain_seeds", "steps", "timing_scores", "scores", "timing_fractions", "fractions", "offsets", "offset_windows", "offset_scores", "tasks",
                    "compare_scores", "compare_fractions"):
            if key in changes:
                changes[key] = tuple(changes[key])
        return replace(self, train=replace(self.train, **train_changes), **changes)

    def describe(self) -> str:
        """The registered description where these are the registered preset's settings on one of its tasks;
        else the settings themselves (a description that names another task or size would mislead)."""
        registered = PRESETS.get(self.name)
        if registered is not None and self.task in registered.book_tasks and replace(self, task=registered.task) == registered:
            return self.description
        task = self.task.replace("\\", "/").rsplit("/", 1)[-1]  # a file of one's own by its name, not its whole path
        return (f"as run on {task}: model {self.model}, n_train {self.n_train or 'all'}, n_test {self.n_test or 'all'}; {len(self.score_seeds)} scoring runs at steps "
                f"{', '.join(self.steps)}; every subset retrained with {len(self.retrain_seeds)} seeds; kept fractions "
                f"{', '.join(f'{f:g}' for f in self.fractions)}; offsets {', '.join(f'{o:g}' for o in self.offsets)}")

    def to_dict(self) -> dict:
        """Every field, except those added after tables were committed while they hold their defaults
        (so that the committed tables' keys, Context.tables_key, stay the same), with the removed fields at their one value."""
        d = {**asdict(self), **REMOVED_FIELDS}
        for name, default in NEW_FIELDS.items():
            if d[name] == default:
                d.pop(name)
        return d


REMOVED_FIELDS = {"extra": {}}  # `extra` was never read; committed tables were keyed with it, always empty
NEW_FIELDS = {"dynamics": False, "dynamics_per_epoch": 8, "compare_fractions": (0.5, 0.7),
              "compare_scores": ("el2n", "grand_head", "grand_full", "loss", "forgetting", "low_confidence", "variability", "neg_aum")}


SCALE_PRESETS = ("cpu", "cpu-2k", "gpu")  # the real-data presets the scale chapter compares, from 500 to 10,000 training examples

PRESETS: dict[str, Preset] = {
    "smoke": Preset(
        name="smoke",
        description="CI check of the whole pipeline: a tiny random BERT learning from scratch on 320 ag_news examples (about 40% test accuracy, 4 classes); seconds per figure, numbers say nothing about the paper",
        task="ag_news",
        model="tiny",
        n_train=320,
        n_test=160,
        train=TrainConfig(epochs=3, batch_size=16, lr=3e-3, max_length=48, eval_batch_size=160),
        score_seeds=(0, 1),
        retrain_seeds=(0, 1),
        steps=("0", "0.5ep", "1ep", "2ep"),
        fractions=(0.3, 0.5, 0.7, 0.9),
        offsets=(0.0, 0.1, 0.2, 0.3),
        dynamics=True,
        compare_fractions=(0.3, 0.7),  # small subsets: the "Which score?" retrainings add about a minute on 2 cores
    ),
    "quick": Preset(
        name="quick",
        description="The README's first run (diet run): pre-trained MiniLM-L6 on 400 ag_news examples (400 test), 2 scoring runs, scores after one epoch, each of 6 selections retrained with 2 seeds; a few minutes on 2 CPU cores",
        task="ag_news",
        model="minilm-l6",
        n_train=400,  # diet run: 2 scoring runs + 6 selections x 2 seeds = 14 fine-tunings; at 512 / 500 (33 s a retraining, idle) about 6 minutes
        n_test=400,
        train=TrainConfig(epochs=2, batch_size=16, lr=1e-4, max_length=64),
        score_seeds=(0, 1),
        retrain_seeds=(0, 1),
        steps=("1ep",),
        scores=("el2n", "grand_head"),
    ),
    "first-look": Preset(
        name="first-look",
        description="A first look at a task of your own (a file given as the book's task): pre-trained MiniLM-L6 on 400 "
                    "training / 300 test examples, EL2N from 2 scoring runs at steps 0, 0.5 and 1 epoch (figures 1 and 2 are curves), "
                    "every subset retrained with 3 seeds (so verdicts can hold or fail), 2 kept fractions, 3 offsets; "
                    "65 fine-tunings, about 35 core-minutes by diet plan's estimate (measured on 2 idle CPU cores with two "
                    "workers: 16 minutes, then 48 s to render the book)",
        task="ag_news",
        model="minilm-l6",
        n_train=400,
        n_test=300,
        train=TrainConfig(epochs=2, batch_size=16, lr=1e-4, max_length=64),
        score_seeds=(0, 1),
        retrain_seeds=(0, 1, 2),
        steps=("0", "0.5ep", "1ep"),
        timing_scores=("el2n",),
        scores=("el2n",),
        timing_fractions=(0.5,),
        fractions=(0.5, 0.8),
        offsets=(0.0, 0.1, 0.2),
        offset_windows=("fixed",),
        offset_scores=("el2n",),
    ),
    "cpu": Preset(
        name="cpu",
        description="Real results on 2 CPU cores: pre-trained MiniLM-L6 on a 500-example training subsample (500 test), 5 scoring runs, 3 retraining seeds; figure 4 by EL2N in the fixed-window reading; about 200 fine-tunings of 20 to 90 seconds each per task, filled by diet precompute (resumable)",
        task="ag_news",
        model="minilm-l6",
        n_train=500,
        n_test=500,
        train=TrainConfig(epochs=2, batch_size=16, lr=1e-4, max_length=64),  # 5e-5 at batch 32 underfits 500 examples
        offsets=(0.0, 0.1, 0.2, 0.3),
        offset_windows=("fixed",),  # figure 4 as the paper words it ("keep 70%"); both readings and all scores would add ~100 runs per task
        offset_scores=("el2n",),
        tasks=("ag_news", "sst2"),
        dynamics=True,  # figure 7 ("Which score?") and figure 5's data map: 123 (ag_news) and 132 (sst2) more runs, committed
    ),
    "cpu-2k": Preset(
        name="cpu-2k",
        description="The cpu grid at four times the data: pre-trained MiniLM-L6 on 2,000 training examples (2,000 ag_news test examples; all 872 sst2 dev examples), 125 updates per epoch, bf16 autocast and fused AdamW on the CPU (accuracy within seed noise of float32, 1.7 to 2.0 times faster); about 6 core-hours per task (measured on ag_news, one idle core per run: a scoring run 250 s, a retraining 80 s on 1,000 examples and 160 s on 2,000), so about 3 hours per task with two workers on 2 cores, filled over several sessions by diet precompute (resumable)",
        task="ag_news",
        model="minilm-l6",
        n_train=2000,
        n_test=2000,
        train=TrainConfig(epochs=2, batch_size=16, lr=1e-4, max_length=64, dtype="bf16", fused_adamw=True),
        offsets=(0.0, 0.1, 0.2, 0.3),
        offset_windows=("fixed",),
        offset_scores=("el2n",),
        tasks=("ag_news", "sst2"),
    ),
    "gpu": Preset(
        name="gpu",
        description="One GPU: pre-trained MiniLM-L6 on up to 10,000 training examples (the whole ag_news mirror, 9,991; a "
                    "10,000-example sample of sst2's 67,349), the full test split, batch 32, length 128, bf16 autocast, fused AdamW; "
                    "the cpu preset's figure-4 trim (EL2N, fixed window), no training-dynamics figure. ag_news is 217 runs, sst2 205: "
                    "measured on one H200 with 6 worker processes, a run every 2.0 to 2.5 s once started (more workers are no "
                    "faster), so a task's grid is about 8 minutes plus a minute of start-up: one device session",
        task="ag_news",
        model="minilm-l6",
        n_train=10_000,  # more than the ag_news mirror holds: all of it, and the same store keys as n_train None
        n_test=None,
        train=TrainConfig(epochs=2, batch_size=32, lr=5e-5, max_length=128, eval_batch_size=512, fused_adamw=True, device="cuda"),
        offset_windows=("fixed",),
        offset_scores=("el2n",),
        tasks=("ag_news", "sst2"),
        # dynamics (figure 7, 114 more runs a task) is left out to fit one 15-minute device session; results/gpu holds 9 of its runs
    ),
    "paper": Preset(
        name="paper",
        description="The paper's setup: bert-base-uncased from the hub, full MNLI, 5 scoring runs, batch 32, scores up to one epoch (needs a GPU and the hub)",
        task="mnli",
        model="bert-base-uncased",
        n_train=None,
        n_test=None,
        train=TrainConfig(epochs=3, batch_size=32, lr=2e-5, max_length=128, eval_batch_size=512),
        steps=("0", "0.125ep", "0.25ep", "0.5ep", "0.75ep", "1ep"),
        retrain_seeds=(0, 1, 2),
        tasks=("mnli", "ag_news"),
        dynamics=True,
    ),
}


def get_preset(name: str | Preset) -> Preset:
    if isinstance(name, Preset):
        return name
    if name not in PRESETS:
        raise DietError(f"unknown preset {name!r}. {did_you_mean(name, list(PRESETS))}")
    return PRESETS[name]
