"""Model construction: a Hugging Face decoder config -> a torch model on a device, random (seeded) or real
weights.

Owns config loading/validation and weight initialisation. It does not own KV caches, attention or serving
(see engine/). The profiler imports `build_model` so that it times the very modules the server runs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig, AutoModelForCausalLM, PretrainedConfig

from .errors import HarnessError

CONFIG_DIR = Path(__file__).resolve().parent / "configs"

_DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}


def parse_dtype(name: str) -> torch.dtype:
    """'float32' | 'float16' | 'bfloat16' -> torch dtype; anything else is a HARNESS_BAD_FLAG error."""
    if name not in _DTYPES:
        raise HarnessError("HARNESS_BAD_FLAG", f"--dtype {name!r}: expected one of {', '.join(_DTYPES)}")
    return _DTYPES[name]


def bundled_config_path(name: str) -> Path:
    """Path of a config shipped with the package, e.g. 'qwen3-0.6b' or 'qwen3-tiny'."""
    return CONFIG_DIR / f"{name}.json"


def load_hf_config(path: str | os.PathLike[str]) -> PretrainedConfig:
    """Read a Hugging Face `config.json` (a file, or a directory holding one; bundled names allowed)."""
    p = Path(path)
    if not p.exists() and bundled_config_path(str(path)).exists():
        p = bundled_config_path(str(path))
    if p.is_dir():
        p = p / "config.json"
    try:
        raw: Any = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise HarnessError("HARNESS_BAD_CONFIG", f"{p}: file not found (expected a HF config.json)") from err
    except json.JSONDecodeError as err:
        raise HarnessError("HARNESS_BAD_CONFIG", f"{p}:{err.lineno}: invalid JSON ({err.msg})") from err
    if not isinstance(raw, dict) or "model_type" not in raw:
        raise HarnessError("HARNESS_BAD_CONFIG", f"{p}: expected a JSON object with a 'model_type' field")
    model_type = raw.pop("model_type")
    try:
        config = AutoConfig.for_model(model_type, **raw)
    except (ValueError, KeyError, TypeError) as err:
        raise HarnessError("HARNESS_BAD_CONFIG", f"{p}: field model_type={model_type!r}: {err}") from err
    for field in ("num_hidden_layers", "hidden_size", "num_attention_heads", "vocab_size"):
        value = getattr(config, field, None)
        if not isinstance(value, int) or value <= 0:
            raise HarnessError("HARNESS_BAD_CONFIG", f"{p}: field {field}: expected a positive integer")
    return config


def head_dim_of(config: PretrainedConfig) -> int:
    """The attention head width (Qwen3 sets it explicitly; 128 != hidden/heads for Qwen3-0.6B)."""
    explicit = getattr(config, "head_dim", None)
    return int(explicit) if explicit else int(config.hidden_size // config.num_attention_heads)


def _load_safetensors_dir(model: torch.nn.Module, weights_dir: Path) -> None:
    from safetensors.torch import load_file

    files = sorted(weights_dir.glob("*.safetensors"))
    if not files:
        raise HarnessError("HARNESS_BAD_WEIGHTS", f"--weights {weights_dir}: no *.safetensors files found")
    state: dict[str, torch.Tensor] = {}
    for f in files:
        try:
            state.update(load_file(str(f)))
        except Exception as err:  # safetensors raises several foreign types
            raise HarnessError("HARNESS_BAD_WEIGHTS", f"{f}: unreadable safetensors file ({err})") from err
    result = model.load_state_dict(state, strict=False)
    # Tied embeddings legitimately leave lm_head.weight absent from the checkpoint.
    missing = [k for k in result.missing_keys if k != "lm_head.weight"]
    if missing or result.unexpected_keys:
        raise HarnessError(
            "HARNESS_BAD_WEIGHTS",
            f"--weights {weights_dir}: tensor names do not match the config "
            f"(missing {missing[:5]}, unexpected {list(result.unexpected_keys)[:5]})",
        )


def build_model(
    config_path_or_obj: str | os.PathLike[str] | PretrainedConfig,
    *,
    device: str | torch.device,
    dtype: torch.dtype | str,
    seed: int = 0,
    weights_dir: str | os.PathLike[str] | None = None,
    attn_implementation: str = "sdpa",
) -> torch.nn.Module:
    """Build the causal LM in eval mode on `device` with `dtype`.

    Random weights are drawn on the CPU in float32 from `seed` (so they are identical on every device and
    run), then cast and moved; `weights_dir` loads `*.safetensors` instead. Timing with forced output lengths
    does not depend on weight values.
    """
    config = (
        config_path_or_obj
        if isinstance(config_path_or_obj, PretrainedConfig)
        else load_hf_config(config_path_or_obj)
    )
    torch_dtype = parse_dtype(dtype) if isinstance(dtype, str) else dtype
    config._attn_implementation = attn_implementation
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    if weights_dir is not None:
        _load_safetensors_dir(model, Path(weights_dir))
    model.tie_weights()
    model = model.to(device=torch.device(device), dtype=torch_dtype)
    model.eval()
    model.requires_grad_(False)
    return model
