"""The model dimensions the profile carries, read from the HF config and the built model.

Vidur filters profile rows by exact equality with its model config (vidur-reference.md §1.5, §2.4), so
these values must equal what vidur-bridge writes: n_embd is the config's hidden_size (1024 for Qwen3-0.6B)
even where head_dim * n_head differs from it (Qwen3: 128 * 16 = 2048). The kernels are timed at the real
head_dim; only the filter columns carry hidden_size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import PretrainedConfig

from .errors import ProfileError


@dataclass(frozen=True)
class ModelDims:
    """Dimensions written to the CSVs (filter columns) and used to shape the timed tensors."""

    n_head: int
    n_kv_head: int
    n_embd: int
    n_expanded_embd: int
    vocab_size: int
    use_gated_mlp: bool
    head_dim: int
    num_layers: int
    rms_norm_eps: float


def _positive_int(config: PretrainedConfig, field: str, where: str) -> int:
    value = getattr(config, field, None)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ProfileError(
            "PROFILE_BAD_CONFIG", f"{where}: field {field}: expected a positive integer, got {value!r}"
        )
    return value


def dims_from_config(config: PretrainedConfig, model: torch.nn.Module, where: str) -> ModelDims:
    """Read the dims; `where` (the config path) names the file in errors."""
    n_head = _positive_int(config, "num_attention_heads", where)
    n_kv_head = getattr(config, "num_key_value_heads", None) or n_head
    if not isinstance(n_kv_head, int) or n_kv_head <= 0 or n_head % n_kv_head != 0:
        raise ProfileError(
            "PROFILE_BAD_CONFIG",
            f"{where}: field num_key_value_heads: expected a positive divisor of "
            f"num_attention_heads={n_head}, got {n_kv_head!r}",
        )
    hidden = _positive_int(config, "hidden_size", where)
    explicit_hd = getattr(config, "head_dim", None)
    head_dim = int(explicit_hd) if explicit_hd else hidden // n_head
    layers = decoder_layers(model, where)
    return ModelDims(
        n_head=n_head,
        n_kv_head=n_kv_head,
        n_embd=hidden,
        n_expanded_embd=_positive_int(config, "intermediate_size", where),
        vocab_size=_positive_int(config, "vocab_size", where),
        use_gated_mlp=hasattr(layers[0].mlp, "gate_proj"),
        head_dim=head_dim,
        num_layers=len(layers),
        rms_norm_eps=float(getattr(config, "rms_norm_eps", 1e-6)),
    )


def decoder_layers(model: torch.nn.Module, where: str) -> list[torch.nn.Module]:
    """The decoder blocks of an HF Llama-style causal LM (model.model.layers), checked."""
    inner = getattr(model, "model", None)
    layers = getattr(inner, "layers", None)
    if layers is None or len(layers) == 0:
        raise ProfileError("PROFILE_UNSUPPORTED", f"{where}: the model has no model.layers decoder blocks")
    first = layers[0]
    for part in ("self_attn", "mlp", "input_layernorm", "post_attention_layernorm"):
        if not hasattr(first, part):
            raise ProfileError(
                "PROFILE_UNSUPPORTED",
                f"{where}: decoder block lacks '{part}' (expected a Llama/Qwen-style block)",
            )
    for part in ("q_proj", "k_proj", "v_proj", "o_proj"):
        if not hasattr(first.self_attn, part):
            raise ProfileError(
                "PROFILE_UNSUPPORTED", f"{where}: self_attn lacks '{part}' (fused QKV not supported)"
            )
    return list(layers)
