"""`TrainConfig`: how a behavior classifier is trained (torch-free, so the CLI builds its flags fast)."""

from __future__ import annotations

from dataclasses import dataclass, field

from vpbehavior._config import check_choices, check_range, option
from vpbehavior.core._frozen import FrozenDict
from vpbehavior.core.errors import ConfigError

from .postprocess import PostProcessor

FEATURE_KINDS = ("video", "tokens", "pose", "video+pose")
HEADS = ("linear", "mlp", "conv", "attention")
DEFAULT_WINDOWS = {"linear": 1, "mlp": 1, "conv": 31, "attention": 16}


@dataclass(frozen=True)
class TrainConfig:
    """How a classifier is trained (saved with it). Every field is also a `vpbehavior train` flag."""

    kind: str = option("video", "input features (tokens = pooled token grids, for --head attention)", FEATURE_KINDS)
    head: str = option("mlp", "classifier head", HEADS)
    mode: str = option("multi", "multi-label (sigmoid) or single-label (softmax) classification", ("multi", "single"))
    loss: str = option("bce", "loss function", ("bce", "focal", "eql"))
    class_weights: str = option("none", "class weighting of the loss", ("none", "balanced"))
    focal_gamma: float = option(2.0, "focal loss gamma")
    eql_lambda: float | None = option(None, "EQL tail threshold (default: from the class frequencies)")
    window: int | None = option(None, "frames the head sees (default: conv 31, attention 16, others 1)")
    hidden: int = option(256, "hidden units of the mlp and conv heads")
    layers: int = option(2, "layers of the mlp and conv heads")
    dropout: float | None = option(None, "dropout (default: the head's; attention 0.5)")
    lr: float = option(1e-3, "peak learning rate (one-cycle schedule)")
    weight_decay: float = option(1e-4, "AdamW weight decay")
    batch_size: int = option(256, "frames per training step", flag="train-batch-size")
    max_epochs: int = option(50, "maximum number of epochs", flag="epochs")
    steps_per_epoch: int | None = option(None, "steps per epoch (default: one pass over the annotated frames)")
    patience: int = option(5, "early stopping: epochs without validation improvement before stopping")
    standardize: bool = option(True, "standardize features with the training set's mean and std")
    sequence_norm: bool | None = option(
        None, "z-score features over each recording first (default: on for video kinds)"
    )
    val_fraction: float = option(
        0.2, "recordings held out for early stopping and thresholds when there is no val split"
    )
    seed: int = option(0, "seed of the head's initialization and of batch order", flag="train-seed")
    device: str = option(
        "cpu", "device the head trains on (the head is small: cpu is usually fastest)", flag="train-device"
    )
    smoothing: str = option("median", "smoothing of scores or calls", ("none", "median", "majority"))
    smooth_window: int = option(1, "smoothing window in frames")
    min_bout: int = option(1, "minimum bout length in frames")
    max_gap: int = option(0, "merge bouts of a behavior separated by at most this many frames")
    thresholds: str = option(
        "robust", "per-class thresholds: robust best-F1 on validation, or 0.5", ("robust", "fixed")
    )
    extra: dict = field(default_factory=dict, metadata={"cli": False, "help": "head options not listed above"})

    def __post_init__(self) -> None:
        check_choices(self)
        object.__setattr__(self, "extra", FrozenDict(self.extra))
        if self.window is None:
            object.__setattr__(self, "window", DEFAULT_WINDOWS[self.head])
        if self.head in ("linear", "mlp") and self.window != 1:
            raise ConfigError(f"the {self.head} head sees one frame; --window must be 1, not {self.window}")
        if (self.kind == "tokens") != (self.head == "attention"):
            raise ConfigError(
                "--kind tokens (pooled token grids) goes with --head attention, and the attention head needs "
                f"--kind tokens; got --kind {self.kind} --head {self.head}"
            )
        for name, low, high in (
            ("window", 1, 4096), ("hidden", 1, 65536), ("layers", 1, 64), ("batch_size", 1, None),
            ("max_epochs", 1, None), ("steps_per_epoch", 1, None), ("patience", 1, None),
            ("smooth_window", 1, 10_001), ("min_bout", 1, None), ("max_gap", 0, None),
            ("weight_decay", 0, None), ("focal_gamma", 0, None),
        ):  # fmt: skip
            check_range(self, name, low, high)
        check_range(self, "lr", 0, None, open_low=True)
        check_range(self, "eql_lambda", 0, 1, open_low=True)
        check_range(self, "dropout", 0, 1, open_high=True)
        check_range(self, "val_fraction", 0, 1, open_low=True, open_high=True)
        if self.smoothing == "majority" and self.mode != "single":
            raise ConfigError("--smoothing majority needs --mode single; use median smoothing for multi-label")

    @property
    def single_label(self) -> bool:
        return self.mode == "single"

    @property
    def uses_sequence_norm(self) -> bool:
        return self.sequence_norm if self.sequence_norm is not None else self.kind in ("video", "tokens")

    def head_options(self) -> dict:
        opts: dict = dict(self.extra)
        if self.dropout is not None:
            opts["dropout"] = self.dropout
        if self.head in ("mlp", "conv"):
            opts.update(hidden=self.hidden, layers=self.layers)
        elif self.head == "attention" and self.dropout is None:
            opts["dropout"] = 0.5  # VideoPrism App. H
        return opts

    def postprocessor(self) -> PostProcessor:
        return PostProcessor(
            single_label=self.single_label,
            smoothing=self.smoothing,
            window=self.smooth_window,
            min_bout=self.min_bout,
            max_gap=self.max_gap,
        )
