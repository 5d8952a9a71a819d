"""diet inside your own training: a `transformers.Trainer` callback and a scorer for a plain PyTorch loop.

    from diet.integrations import ScoresCallback, Scorer, combine

`ScoresCallback` (diet.integrations.transformers) scores every training example at chosen steps of a
Trainer run; `Scorer` does the same in any loop (`scorer.step(model, step)` after each update);
`combine` joins the tables of several runs (seeds), whose `mean` then averages over them.
"""

from diet.integrations.scorer import Scorer, combine
from diet.integrations.transformers import ScoresCallback

__all__ = ["Scorer", "ScoresCallback", "combine"]
