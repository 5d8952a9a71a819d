"""Fine-tuning settings and the device they run on."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from diet.errors import DietError


@dataclass(frozen=True)
class TrainConfig:
    """AdamW with linear warm-up and decay; the usual BERT fine-tuning recipe."""

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

    def __post_init__(self) -> None:
        positive = {"epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr, "max_length": self.max_length, "eval_batch_size": self.eval_batch_size}
        for name, value in positive.items():
            if not value > 0:
                raise DietError(f"TrainConfig.{name} must be positive, got {value}")
        if not 0.0 <= self.warmup < 1.0:
            raise DietError(f"TrainConfig.warmup is a fraction of the training steps in [0, 1), got {self.warmup}")
        if self.device not in ("auto", "cpu") and not self.device.startswith("cuda"):
            raise DietError(f"TrainConfig.device must be 'auto', 'cpu' or 'cuda[:N]', got {self.device!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    def key(self) -> dict:
        """The settings that change results. On the CPU (float32) that leaves out the device and the
        inference batch size; GPU runs add their device type and precision, so CPU and GPU results
        are stored apart."""
        d = self.to_dict()
        d.pop("eval_batch_size")
        d.pop("device")
        if self.torch_device().type == "cuda":
            d["accelerator"] = "cuda/bf16" if self.bf16 else "cuda/float32"
        return d

    def torch_device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise DietError(f"device {self.device!r} asked for, but torch sees no GPU; use device='auto' or 'cpu'")
        return torch.device(self.device)

    def autocast(self):
        """bf16 autocast on CUDA when enabled; a no-op context on the CPU."""
        device = self.torch_device()
        enabled = self.bf16 and device.type == "cuda"
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=enabled)
