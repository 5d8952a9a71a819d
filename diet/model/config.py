"""Fine-tuning settings and the device they run on."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from diet.errors import DietError


@dataclass(frozen=True)
class TrainConfig:
    """AdamW with linear warm-up and decay; the usual BERT fine-tuning recipe.

    Precision: `dtype` "auto" runs bf16 autocast on CUDA when `bf16` is set and float32 on the
    CPU (the behaviour before `dtype` existed); "float32" runs float32 everywhere; "bf16" runs
    bf16 autocast everywhere, the CPU included. Weights and optimizer state stay float32; the scores
    of a scoring run are computed under the same autocast as its fine-tuning and returned as float32.

    `length_chunk` 0 trains on batches of a plain seeded shuffle; N > 0 groups each epoch's
    shuffled examples into runs of N batches, sorts each run by length, batches it and shuffles
    the batch order (seeded), which cuts padding (see `diet.model.batching.length_grouped_batches`).

    `fused_adamw` runs torch's fused AdamW kernel (the same update, several times faster on the
    CPU, equal to the default implementation to rounding, not bitwise).
    """

    epochs: float = 2.0
    batch_size: int = 32
    lr: float = 5e-5
    weight_decay: float = 0.01
    warmup: float = 0.1
    max_length: int = 128
    grad_clip: float = 1.0
    eval_batch_size: int = 128
    device: str = "auto"
    bf16: bool = True
    # Fields added later are left out of to_dict() and key() at their defaults, so results stored
    # before they existed keep their keys (see `NEW_FIELDS`).
    dtype: str = "auto"
    length_chunk: int = 0
    fused_adamw: bool = False

    def __post_init__(self) -> None:
        positive = {"epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr, "max_length": self.max_length, "eval_batch_size": self.eval_batch_size}
        for name, value in positive.items():
            if not value > 0:
                raise DietError(f"TrainConfig.{name} must be positive, got {value}")
        if not 0.0 <= self.warmup < 1.0:
            raise DietError(f"TrainConfig.warmup is a fraction of the training steps in [0, 1), got {self.warmup}")
        if self.device not in ("auto", "cpu") and not self.device.startswith("cuda"):
            raise DietError(f"TrainConfig.device must be 'auto', 'cpu' or 'cuda[:N]', got {self.device!r}")
        if self.dtype not in DTYPES:
            raise DietError(f"TrainConfig.dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if isinstance(self.length_chunk, bool) or not isinstance(self.length_chunk, int) or self.length_chunk < 0:
            raise DietError(f"TrainConfig.length_chunk is a number of batches (0 = off), got {self.length_chunk!r}")
        if not isinstance(self.fused_adamw, bool):
            raise DietError(f"TrainConfig.fused_adamw is True or False, got {self.fused_adamw!r}")

    def to_dict(self) -> dict:
        """Every field, except those added later while they hold their default (so that configs
        written before those fields existed read the same)."""
        d = asdict(self)
        for name, default in NEW_FIELDS.items():
            if d[name] == default:
                d.pop(name)
        return d

    def key(self) -> dict:
        """The settings that change results. On the CPU in float32 that leaves out the device and
        the inference batch size (the dict is the same as before `dtype`, `length_chunk` and
        `fused_adamw` existed); GPU runs add their device type and precision, bf16 runs on the CPU add
        "accelerator": "cpu/bf16", so results of each device and precision are stored apart.
        A non-zero `length_chunk` and `fused_adamw` = True appear as themselves."""
        d = self.to_dict()
        d.pop("eval_batch_size")
        d.pop("device")
        d.pop("dtype", None)
        if self.device_type == "cuda":
            d["accelerator"] = "cuda/bf16" if self.uses_bf16 else "cuda/float32"
        elif self.uses_bf16:
            d["accelerator"] = "cpu/bf16"
        return d

    @property
    def uses_bf16(self) -> bool:
        """Whether fine-tuning, prediction and scoring run under bf16 autocast on this config's device."""
        if self.dtype == "auto":
            return self.bf16 and self.device_type == "cuda"
        return self.dtype == "bf16"

    @property
    def precision(self) -> str:
        """The precision that actually runs: "float32" or "bf16 autocast"."""
        return "bf16 autocast" if self.uses_bf16 else "float32"

    def describe(self) -> dict:
        """key() as a reader wants it: the device type and the precision that runs, instead of the
        `bf16` switch (which does nothing on the CPU under dtype "auto")."""
        d = self.key()
        d.pop("bf16")
        d.pop("accelerator", None)
        d["device"] = self.device_type
        d["precision"] = self.precision
        return d

    @property
    def device_type(self) -> str:
        """"cuda" or "cpu": the device these results belong to. A config that names "cuda" keeps it
        on a machine without a GPU, so its stored results are found there (`diet book --no-compute`);
        only computing with it needs the GPU (`torch_device`)."""
        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        return "cuda" if self.device.startswith("cuda") else "cpu"

    def torch_device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise DietError(f"device {self.device!r} asked for, but torch sees no GPU: run this on a machine with one, "
                            "or on the CPU (--device cpu; the presets cpu and cpu-2k)")
        return torch.device(self.device)

    def autocast(self):
        """bf16 autocast when this config runs bf16 (see `uses_bf16`); otherwise a disabled, no-op context."""
        device = self.torch_device()
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=self.uses_bf16)


DTYPES = ("auto", "float32", "bf16")
NEW_FIELDS = {"dtype": "auto", "length_chunk": 0, "fused_adamw": False}  # added after results were stored: omitted from to_dict() at these values
