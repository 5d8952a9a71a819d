"""diet inside a `transformers.Trainer` run: a callback that scores every training example at chosen steps.

    callback = ScoresCallback(train_dataset, scores=["el2n", "grand_head"], steps=["0", "1ep"], out="scores")
    trainer = Trainer(model, args, train_dataset=train_dataset, callbacks=[callback])
    trainer.train()
    keep = diet.select(callback.table.mean("el2n"), keep=0.7)   # or: diet prune --scores scores --task ...

The scores come from diet's own scoring code on the live model, in eval mode, on the model's device
and under the Trainer's mixed precision (accelerate wraps the model's forward in its autocast; with
`bf16=True` diet's own bf16 autocast is on too). The model's modes and every RNG state are restored
after each scoring step, so the training and its final weights are the same as without the callback.
In a multi-process run only the main process scores.
"""

from __future__ import annotations

import math
import sys
import time

from transformers import TrainerCallback

from diet.errors import DietError, warn
from diet.integrations.scorer import Scorer
from diet.scores.table import ScoresTable


class ScoresCallback(TrainerCallback):
    """Score every example of `train_dataset` (the Trainer's own, tokenised) at `steps` with `scores`.

    `steps` are updates ("0", "120") or epochs ("0.5ep", "1ep"), as `diet score --steps` takes them; any
    registered score works (el2n, grand_head, grand_full, loss and the training-dynamics scores). `run`
    names the run in the table (default: the Trainer's seed); `out` is a folder the table is written to
    (as `diet score --out` writes it). After training, `table` holds the scores, `seconds` the time spent
    scoring and `train_seconds` the rest of the training. The other keywords are `Scorer`'s.
    """

    def __init__(self, train_dataset, scores=("el2n", "grand_head"), steps=("0", "1ep"), *, out=None, run: int | None = None,
                 ids=None, precision: str = "auto", grand_method: str = "ghost", batch_size: int = 32, eval_batch_size: int = 128,
                 dynamics_per_epoch: int = 8, verbose: bool = True):
        if precision not in ("auto", "float32", "bf16"):
            raise DietError(f"precision must be auto (the Trainer's: bf16 when bf16=True), float32 or bf16; got {precision!r}")
        self.scorer = Scorer(train_dataset, scores, steps, run=0 if run is None else run, ids=ids,
                             precision="float32" if precision == "auto" else precision, grand_method=grand_method,
                             batch_size=batch_size, eval_batch_size=eval_batch_size, dynamics_per_epoch=dynamics_per_epoch, plan=False)
        self.out, self.verbose = out, verbose
        self._run, self._precision = run, precision
        self._table: ScoresTable | None = None
        self._started: float | None = None
        self.total_seconds: float | None = None

    @property
    def table(self) -> ScoresTable:
        """The scores table of the run (ready once trainer.train() has returned)."""
        if self._table is None:
            raise DietError("the scores table is ready once trainer.train() has returned (on the main process)")
        return self._table

    @property
    def seconds(self) -> float:
        """Seconds spent scoring so far."""
        return self.scorer.seconds

    @property
    def train_seconds(self) -> float | None:
        """Seconds of the training itself, scoring left out (None before the end of training)."""
        return None if self.total_seconds is None else self.total_seconds - self.scorer.seconds

    def on_train_begin(self, args, state, control, model=None, train_dataloader=None, **kwargs):
        if self._started is not None:
            raise DietError("this callback has scored a training run already: give each trainer.train() a new ScoresCallback")
        try:
            per_epoch = max(1, math.ceil(len(train_dataloader) / args.gradient_accumulation_steps))
        except TypeError as error:
            raise DietError("the Trainer's training data has no length (an iterable dataset?), so diet cannot tell what an epoch is: "
                            "give the Trainer a datasets.Dataset (or a torch Dataset with a length)") from error
        rows = getattr(train_dataloader, "dataset", None)
        if args.world_size == 1 and hasattr(rows, "__len__") and len(rows) != len(self.scorer.data):
            raise DietError(f"the callback was given {len(self.scorer.data)} examples, but the Trainer trains on {len(rows)}: "
                            "give ScoresCallback the Trainer's train_dataset")
        self.scorer.run = int(args.seed if self._run is None else self._run)
        if self._precision == "auto":
            self.scorer.precision = "bf16" if args.bf16 else "float32"
        self.scorer.plan(per_epoch, state.max_steps if state.max_steps and state.max_steps > 0 else None)
        self._started = time.perf_counter()
        if state.is_world_process_zero:
            self.scorer.step(model, state.global_step)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.is_world_process_zero:
            self.scorer.step(model, state.global_step)

    def on_train_end(self, args, state, control, **kwargs):
        self.total_seconds = time.perf_counter() - (self._started or time.perf_counter())
        if not state.is_world_process_zero:
            return
        reached = self.scorer.reached()
        if not reached:
            warn(f"training stopped at update {state.global_step}, before the first scoring step {self.scorer.schedule[0]}: no scores")
            return
        missing = [s for s in self.scorer.steps if s not in reached]
        if missing:
            warn(f"training stopped at update {state.global_step}: updates {missing} were never scored; the table holds updates {reached}")
        self._table = self.scorer.table(partial=True)
        self._table.config["seconds_training"] = self.train_seconds
        if self.out is not None:
            self._table.save(self.out)
        if self.verbose:
            print(self.summary(), file=sys.stderr, flush=True)

    def summary(self) -> str:
        """One line: what was scored, and the scoring time beside the training time."""
        share = self.seconds / self.train_seconds if self.train_seconds else float("nan")
        where = f"; table: {self.out}" if self.out is not None else ""
        return (f"diet: scored {len(self.scorer.data):,} examples ({', '.join(self._table.names)}) at updates {self._table.steps} "
                f"in {self.seconds:.2f} s, beside {self.train_seconds:.2f} s of training (+{share:.1%}){where}")
