"""CUDA checks (`pytest -m gpu`): ghost GraNd against the loop oracle, bf16 scores and fine-tuning
against float32. Skipped where torch sees no GPU; scripts/device_run.sh runs them on a lent one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from diet.model.batching import Encoded
from diet.model.config import TrainConfig
from diet.errors import DietError
from diet.scores.grad_norms import per_example_grad_norms
from diet.scores.registry import score_examples
from tests._tiny import tiny_batch, tiny_bert
from tests.test_grad_norms import CASES, TOL, rel_err

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")]

# bf16 keeps 8 significant bits (spacing 2^-8 = 3.9e-3 near 1, about 3 decimal digits). Under autocast
# every matmul rounds its operands to bf16 and accumulates in float32, so a norm built from many such
# products is off by a few bf16 spacings at most, errors partly cancelling. On the CPU's bf16 autocast
# the worst seen was 7e-3 over 288 examples (median 1e-3); 2e-2 is 5 spacings, a 3x margin, and still far
# below what a real error does (one layer's share of the norm missing, or padding counted: 10% or more).
BF16_REL = 2e-2
# Pruning keeps ranks, not values: bf16 must order the examples as float32 does. Seen on the CPU: 0.997+.
MIN_SPEARMAN = 0.99
MIN_TOP_OVERLAP = 0.9  # of the top 30% by a score, the share that both precisions select


@pytest.fixture(autouse=True)
def true_float32():
    """float32 means float32: no TF32 matmuls (a 10-bit mantissa) in the reference runs."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def spearman(a, b) -> float:
    """Rank correlation (ties are measure-zero for these continuous scores)."""
    ra, rb = np.argsort(np.argsort(np.asarray(a))), np.argsort(np.argsort(np.asarray(b)))
    return float(np.corrcoef(ra, rb)[0, 1])


def top_overlap(a, b, keep: float = 0.3) -> float:
    k = int(len(a) * keep)
    return len(set(np.argsort(-np.asarray(a))[:k]) & set(np.argsort(-np.asarray(b))[:k])) / k


def cuda(batch: dict) -> dict:
    return {k: v.cuda() for k, v in batch.items()}


@pytest.mark.parametrize("case", range(len(CASES)))
def test_ghost_matches_loop_float32(case: int) -> None:
    """The CPU exactness cases of test_grad_norms, on CUDA, to the same tolerance."""
    hidden, layers, heads, inter, labels, lengths, pairs = CASES[case]
    model = tiny_bert(case, hidden, layers, heads, inter, labels).cuda()
    batch = cuda(tiny_batch(case, lengths, labels, pairs))
    exact = per_example_grad_norms(model, batch, "loop")
    fast = per_example_grad_norms(model, batch, "ghost")
    assert fast.is_cuda and fast.dtype == torch.float32
    assert rel_err(fast, exact) <= TOL


def test_ghost_bf16_against_exact() -> None:
    """Ghost norms under bf16 autocast against the float32 loop: values to BF16_REL, ranks kept."""
    model = tiny_bert(11, hidden=64, layers=2, heads=4, intermediate=128, num_labels=4, init=0.1).cuda()
    lengths = torch.randint(4, 65, (48,), generator=torch.Generator().manual_seed(11)).tolist()
    batch = cuda(tiny_batch(11, lengths, 4, pairs=True))
    exact = per_example_grad_norms(model, batch, "loop")
    with torch.autocast("cuda", dtype=torch.bfloat16):
        fast = per_example_grad_norms(model, batch, "ghost")
    err, rho = rel_err(fast, exact), spearman(fast.cpu(), exact.cpu())
    print(f"\nghost bf16 vs float32 loop: max relative error {err:.1e}, Spearman {rho:.4f}")
    assert fast.dtype == torch.float32 and not torch.equal(fast, per_example_grad_norms(model, batch, "ghost"))
    assert err <= BF16_REL
    assert rho >= MIN_SPEARMAN


def random_examples(seed: int, n: int, vocab: int = 100, num_labels: int = 4) -> Encoded:
    """Random token ids of lengths 4..64 with [CLS]=1 ... [SEP]=2 and random labels."""
    rng = np.random.default_rng(seed)
    ids = [[1, *rng.integers(3, vocab, int(length) - 2).tolist(), 2] for length in rng.integers(4, 65, n)]
    return Encoded(ids, [[0] * len(x) for x in ids], rng.integers(0, num_labels, n), np.arange(n), 0)


def test_scores_bf16_rank_agreement() -> None:
    """EL2N, head GraNd and full GraNd through diet.scores.registry: CUDA float32 = CPU float32, bf16 ranks = float32's.

    init=0.1 gives logits with a spread (std ~0.4), so the ranks mean something."""
    names = ["el2n", "grand_head", "grand_full"]
    model = tiny_bert(12, hidden=64, layers=2, heads=4, intermediate=128, num_labels=4, init=0.1)
    data = random_examples(12, 256)
    runs = {}
    for label, device, bf16 in [("cpu", "cpu", False), ("float32", "cuda", False), ("bf16", "cuda", True)]:
        cfg = TrainConfig(device=device, bf16=bf16, batch_size=32, eval_batch_size=64)
        runs[label] = score_examples(model, data, names, cfg, progress=False)
    for name in names:
        cpu, f32, bf = runs["cpu"][name], runs["float32"][name], runs["bf16"][name]
        rho, overlap = spearman(bf, f32), top_overlap(bf, f32)
        print(f"\n{name}: CUDA float32 vs CPU max rel {np.max(np.abs(f32 - cpu) / cpu):.1e}; bf16 vs float32 Spearman {rho:.4f}, top-30% overlap {overlap:.2f}")
        np.testing.assert_allclose(f32, cpu, rtol=TOL)
        assert not np.array_equal(bf, f32), f"{name}: bf16 gave float32's exact values; autocast did not take effect"
        assert rho >= MIN_SPEARMAN, name
        assert overlap >= MIN_TOP_OVERLAP, name


def test_fine_tune_bf16_accuracy_matches_float32() -> None:
    """MiniLM-L6 on 256 ag_news examples (the cpu preset's recipe), 3 seeds per precision: bf16 training
    reaches float32's test accuracy on 512 examples. On the CPU in float32 the seeds gave 0.844, 0.836,
    0.820 (sd 0.012), so the difference of two 3-seed means has sd ~0.01 and 0.04 is 4 sd; both must
    learn (chance is 0.25), or an equal collapse would pass."""
    from diet import load_task
    from diet.model.encoders import load_tokenizer
    from diet.model.batching import encode
    from diet.model.encoders import load_encoder, minilm_path
    from diet.model.train import accuracy, fine_tune

    try:
        minilm_path()
        task = load_task("ag_news", n_train=256, n_test=512, seed=0)
    except DietError as error:
        pytest.skip(f"needs the MiniLM-L6 weights and the ag_news mirror: {error}")
    tokenizer = load_tokenizer("minilm-l6")
    train, test = encode(task.train, tokenizer, 64), encode(task.test, tokenizer, 64)
    means = {}
    for bf16 in (False, True):
        cfg = TrainConfig(epochs=2, batch_size=16, lr=1e-4, max_length=64, device="cuda", bf16=bf16)
        accs = [accuracy(fine_tune(load_encoder("minilm-l6", 4, seed), train, cfg, seed, progress=False), test, cfg) for seed in (0, 1, 2)]
        means[bf16] = float(np.mean(accs))
        print(f"\n{'bf16' if bf16 else 'float32'} fine-tuning: test accuracy {accs} (mean {means[bf16]:.3f})")
    assert min(means.values()) >= 0.7
    assert abs(means[True] - means[False]) <= 0.04
