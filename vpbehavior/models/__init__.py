"""PyTorch VideoPrism: video encoder, LvT video-text model, configs and checkpoints.

Importing this subpackage imports torch; ``import vpbehavior`` alone does not.
"""

from . import configs
from .checkpoints import convert_flax_params, flax_param_shapes, infer_config
from .configs import VideoPrismConfig, get_config, list_configs
from .layers import ATTENTION_IMPLS
from .model import VideoPrism, VideoPrismLvT, VideoPrismOutput, build_model
from .tokenizer import Tokenizer, canonicalize_text, tokenize_texts

__all__ = [
    "ATTENTION_IMPLS",
    "Tokenizer",
    "VideoPrism",
    "VideoPrismConfig",
    "VideoPrismLvT",
    "VideoPrismOutput",
    "build_model",
    "canonicalize_text",
    "configs",
    "convert_flax_params",
    "flax_param_shapes",
    "get_config",
    "infer_config",
    "list_configs",
    "tokenize_texts",
]
