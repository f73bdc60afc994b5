"""Request validation and response shapes of `/v1/completions` (OpenAI completions, vLLM-style chunks).

Pure functions: JSON in, a validated CompletionParams or an ApiError out; chunk/response dicts out. No I/O.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any


@dataclass
class ApiError(Exception):
    """An OpenAI-style error: HTTP status, message, type, param, code."""

    status: int
    message: str
    type: str = "invalid_request_error"
    param: str | None = None
    code: str | None = None

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


@dataclass
class CompletionParams:
    """A validated completion request."""

    prompt_token_ids: list[int]
    max_tokens: int
    ignore_eos: bool
    stream: bool
    include_usage: bool
    model: str | None


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def parse_completion(
    body: Any,
    *,
    vocab_size: int,
    max_context: int,
    served_model: str,
    tokenize: Any = None,
) -> CompletionParams:
    """Validate a decoded JSON body. Raises ApiError (400 shape/type, 404 model, 413 context, 422 vocab)."""
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object", code="invalid_body")
    model = body.get("model")
    if model is not None and (not isinstance(model, str) or model != served_model):
        raise ApiError(
            404,
            f"model {model!r} does not exist; this server serves {served_model!r}",
            param="model",
            code="model_not_found",
        )
    if "prompt" not in body:
        raise ApiError(
            400,
            "missing field 'prompt' (a list of token ids, or a string with --tokenizer)",
            param="prompt",
            code="missing_field",
        )
    prompt = body["prompt"]
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], list):
        prompt = prompt[0]  # OpenAI's batch form with a single prompt
    if isinstance(prompt, str):
        if tokenize is None:
            raise ApiError(
                400,
                "field 'prompt': text prompts need the server's --tokenizer; send token ids",
                param="prompt",
                code="invalid_type",
            )
        ids = list(tokenize(prompt))
    elif isinstance(prompt, list) and all(_is_int(t) for t in prompt):
        ids = prompt
    else:
        raise ApiError(
            400,
            "field 'prompt': expected a non-empty list of integer token ids or a string",
            param="prompt",
            code="invalid_type",
        )
    if not ids:
        raise ApiError(
            400, "field 'prompt': must hold at least one token", param="prompt", code="empty_prompt"
        )
    bad = [t for t in ids if t < 0 or t >= vocab_size]
    if bad:
        raise ApiError(
            422,
            f"field 'prompt': token id {bad[0]} is outside the vocabulary [0, {vocab_size})",
            param="prompt",
            code="token_out_of_vocab",
        )
    max_tokens = body.get("max_tokens", 16)
    if not _is_int(max_tokens) or max_tokens < 1:
        raise ApiError(
            400, "field 'max_tokens': expected an integer >= 1", param="max_tokens", code="invalid_type"
        )
    for name in ("ignore_eos", "stream"):
        if name in body and not isinstance(body[name], bool):
            raise ApiError(400, f"field '{name}': expected true or false", param=name, code="invalid_type")
    opts = body.get("stream_options")
    if opts is not None and not isinstance(opts, dict):
        raise ApiError(
            400, "field 'stream_options': expected an object", param="stream_options", code="invalid_type"
        )
    include_usage = bool(opts.get("include_usage", False)) if isinstance(opts, dict) else False
    if len(ids) + max_tokens > max_context:
        raise ApiError(
            413,
            f"prompt ({len(ids)} tokens) + max_tokens ({max_tokens}) = {len(ids) + max_tokens} "
            f"exceeds the context limit of {max_context} tokens",
            param="max_tokens",
            code="context_length_exceeded",
        )
    return CompletionParams(
        ids,
        max_tokens,
        bool(body.get("ignore_eos", False)),
        bool(body.get("stream", False)),
        include_usage,
        model,
    )


def stream_chunk(
    cid: str, created: int, model: str, text: str, token_id: int, finish: str | None
) -> dict[str, Any]:
    """One SSE event for one generated token (vLLM completions chunk shape plus `token_ids`)."""
    return {
        "id": cid,
        "object": "text_completion",
        "created": created,
        "model": model,
        "choices": [
            {"index": 0, "text": text, "token_ids": [token_id], "logprobs": None, "finish_reason": finish}
        ],
    }


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def now_s() -> int:
    return int(time.time())
