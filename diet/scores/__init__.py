"""Per-example scores: the registry, EL2N/GraNd, training-dynamics scores, the scores table.

Importing the package fills the registry (`registry.SCORES`): the output and gradient scores of
`registry`, then the training-dynamics scores of `dynamics` (forgetting, low_confidence, variability, neg_aum).
"""

from diet.scores import dynamics, registry  # noqa: F401 (registers every score)
