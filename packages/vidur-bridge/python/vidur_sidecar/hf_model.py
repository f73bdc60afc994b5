"""Builds a Vidur model config class from a Hugging Face dense decoder config.json.

Vidur (0.0.26) derives the attention head dim as embedding_dim / num_q_heads and asserts that it divides.
Models whose real head_dim differs (Qwen3-0.6B: 128 vs 1024/16 = 64) keep embedding_dim = hidden_size, so the
profile rows (filtered on n_embd) still match; only Vidur's memory planner sees the wrong head dim. The
caller therefore computes the KV block count itself from the true head dim (see `true_memory_plan`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, make_dataclass
from typing import Any

from .protocol import SidecarError

# __subclasses__() holds weak references: keep the generated class alive for the whole run.
_KEEP: list[type] = []

# Architectures with a SiLU-gated MLP and RMSNorm (the Llama family that Vidur models natively).
_GATED_RMS = (
    "LlamaForCausalLM",
    "MistralForCausalLM",
    "Qwen2ForCausalLM",
    "Qwen3ForCausalLM",
    "InternLM2ForCausalLM",
    "GemmaForCausalLM",
    "Gemma2ForCausalLM",
    "OlmoForCausalLM",
    "GraniteForCausalLM",
)
_QKV_BIAS_ALWAYS = ("Qwen2ForCausalLM",)


@dataclass(frozen=True)
class HfDims:
    """The dimensions Vidur needs, read from config.json (names as Vidur's BaseModelConfig)."""

    num_layers: int
    num_q_heads: int
    num_kv_heads: int
    embedding_dim: int
    mlp_hidden_dim: int
    max_model_len: int
    use_gated_mlp: bool
    use_qkv_bias: bool
    vocab_size: int
    rope_theta: float | None
    head_dim: int
    tie_word_embeddings: bool
    architecture: str


def read_hf_dims(path: str) -> HfDims:
    """Parses config.json; raises SidecarError(VIDUR_MODEL_CONFIG_INVALID) naming the missing field."""
    try:
        with open(path, encoding="utf-8") as f:
            cfg: dict[str, Any] = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise SidecarError("VIDUR_MODEL_CONFIG_INVALID", f"{path}: cannot read model config.json: {e}") from e
    archs = cfg.get("architectures") or ["?"]
    arch = str(archs[0])
    if cfg.get("num_experts") or cfg.get("num_local_experts"):
        raise SidecarError("VIDUR_MODEL_CONFIG_INVALID", f"{path}: mixture-of-experts models are not supported (dense decoders only)")

    def need(key: str) -> int:
        value = cfg.get(key)
        if not isinstance(value, int) or value <= 0:
            raise SidecarError("VIDUR_MODEL_CONFIG_INVALID", f"{path}: field '{key}' must be a positive integer, got {value!r}")
        return value

    heads = need("num_attention_heads")
    hidden = need("hidden_size")
    act = str(cfg.get("hidden_act", "silu"))
    if arch not in _GATED_RMS and act not in ("silu", "swiglu"):
        raise SidecarError(
            "VIDUR_MODEL_CONFIG_INVALID",
            f"{path}: architecture {arch} with hidden_act {act} is not a SiLU-gated RMSNorm decoder that Vidur can model",
        )
    head_dim = cfg.get("head_dim") or hidden // heads
    return HfDims(
        num_layers=need("num_hidden_layers"),
        num_q_heads=heads,
        num_kv_heads=int(cfg.get("num_key_value_heads") or heads),
        embedding_dim=hidden,
        mlp_hidden_dim=need("intermediate_size"),
        max_model_len=int(cfg.get("max_position_embeddings") or 4096),
        use_gated_mlp=True,
        use_qkv_bias=bool(cfg.get("attention_bias", False)) or arch in _QKV_BIAS_ALWAYS,
        vocab_size=need("vocab_size"),
        rope_theta=float(cfg["rope_theta"]) if cfg.get("rope_theta") is not None else None,
        head_dim=int(head_dim),
        tie_word_embeddings=bool(cfg.get("tie_word_embeddings", False)),
        architecture=arch,
    )


def register_model(name: str, dims: HfDims) -> type:
    """Defines a BaseModelConfig subclass whose get_name() is `name`; Vidur finds it by walking subclasses."""
    from vidur.config.model_config import BaseModelConfig
    from vidur.config.utils import get_all_subclasses
    from vidur.types import ActivationType, NormType

    for existing in get_all_subclasses(BaseModelConfig):
        get_name = getattr(existing, "get_name", None)
        if get_name is not None:
            try:
                if get_name() == name:
                    raise SidecarError(
                        "VIDUR_MODEL_CONFIG_INVALID",
                        f"model name '{name}' is already built into Vidur; choose another --model-name so the profile's dims are used",
                    )
            except NotImplementedError:
                continue
    if dims.embedding_dim % dims.num_q_heads != 0:
        raise SidecarError(
            "VIDUR_MODEL_CONFIG_INVALID",
            f"hidden_size {dims.embedding_dim} is not a multiple of num_attention_heads {dims.num_q_heads}; Vidur asserts it",
        )
    defaults: dict[str, Any] = {
        "num_layers": dims.num_layers,
        "num_q_heads": dims.num_q_heads,
        "num_kv_heads": dims.num_kv_heads,
        "embedding_dim": dims.embedding_dim,
        "mlp_hidden_dim": dims.mlp_hidden_dim,
        "max_model_len": dims.max_model_len,
        "use_gated_mlp": dims.use_gated_mlp,
        "use_bias": False,
        "use_qkv_bias": dims.use_qkv_bias,
        "activation": ActivationType.SILU,
        "norm": NormType.RMS_NORM,
        "post_attn_norm": True,
        "vocab_size": dims.vocab_size,
        "rope_theta": dims.rope_theta,
    }
    # Every field needs a default: Vidur instantiates the class with no arguments.
    fields = [(k, type(v) if v is not None else Any, field(default=v)) for k, v in defaults.items()]
    cls = make_dataclass(
        "VidurBridgeModelConfig",
        fields,
        bases=(BaseModelConfig,),
        namespace={"get_name": staticmethod(lambda: name)},
    )
    _KEEP.append(cls)
    return cls


def true_memory_plan(dims: HfDims, memory_gb: float, margin: float, tp: int, pp: int, block_size: int) -> dict[str, int]:
    """KV blocks that fit per device with the model's real head_dim and its embeddings (bf16/fp16 bytes).

    Vidur's own planner uses embedding_dim/num_q_heads as head dim and ignores embeddings and the LM head.
    """
    hd = dims.head_dim
    q_heads = dims.num_q_heads // tp
    kv_heads = max(1, -(-dims.num_kv_heads // tp))
    per_layer = dims.embedding_dim * hd * (q_heads + 2 * kv_heads) + dims.embedding_dim * hd * q_heads
    per_layer += 3 * dims.embedding_dim * dims.mlp_hidden_dim // tp
    layers = dims.num_layers // pp
    embed = dims.vocab_size * dims.embedding_dim // tp * (1 if dims.tie_word_embeddings else 2)
    params = per_layer * layers + embed
    kv_bytes_per_token = 2 * 2 * hd * kv_heads * layers
    available = memory_gb * 1024**3 * (1 - margin) - 2 * params
    tokens = int(available // kv_bytes_per_token)
    if tokens < block_size:
        raise SidecarError("VIDUR_DEVICE_MEMORY", f"{memory_gb} GB cannot hold the weights plus one KV block of this model")
    return {"params_per_device": params, "kv_bytes_per_token": kv_bytes_per_token, "num_blocks": tokens // block_size}
