"""Response bodies shaped like what providers really send (fields, nulls and extras included)."""

from __future__ import annotations

from typing import Any


def openai_chat(
    *,
    model: str = "gpt-4.1-2025-04-14",
    choices: int = 1,
    finish: tuple[str, ...] = ("stop",),
    prompt: int = 19,
    completion: int = 10,
    cached: int = 0,
    reasoning: int = 0,
    tool_call: bool = False,
    service_tier: str | None = "default",
) -> dict[str, Any]:
    out = []
    for i in range(choices):
        reason = finish[i] if i < len(finish) else finish[-1]
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None if tool_call else f"Answer number {i}.",
            "refusal": None,
            "annotations": [],
        }
        if tool_call:
            message["tool_calls"] = [
                {
                    "id": f"call_{i}",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Hanoi"}'},
                }
            ]
        out.append({"index": i, "message": message, "logprobs": None, "finish_reason": reason})
    return {
        "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "object": "chat.completion",
        "created": 1741569952,
        "model": model,
        "choices": out,
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": reasoning,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": service_tier,
        "system_fingerprint": "fp_b705f0c291",
    }


def azure_chat() -> dict[str, Any]:
    body = openai_chat(model="gpt-4o-2024-11-20", service_tier=None)
    body["prompt_filter_results"] = [
        {
            "prompt_index": 0,
            "content_filter_results": {
                "hate": {"filtered": False, "severity": "safe"},
                "self_harm": {"filtered": False, "severity": "safe"},
            },
        }
    ]
    body["choices"][0]["content_filter_results"] = {"hate": {"filtered": False, "severity": "safe"}}
    del body["service_tier"]
    return body


def openrouter_chat() -> dict[str, Any]:
    return {
        "id": "gen-1747226012-zxcvbnmasdfghjkl",
        "provider": "OpenAI",
        "model": "openai/gpt-4o-mini",
        "object": "chat.completion",
        "created": 1747226012,
        "choices": [
            {
                "logprobs": None,
                "finish_reason": "stop",
                "native_finish_reason": "stop",
                "index": 0,
                "message": {"role": "assistant", "content": "Hello!", "refusal": None, "reasoning": None},
            }
        ],
        "system_fingerprint": "fp_0392822090",
        "usage": {
            "prompt_tokens": 14,
            "completion_tokens": 9,
            "total_tokens": 23,
            "cost": 0.0000075,
            "is_byok": False,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "cost_details": {"upstream_inference_cost": None},
            "completion_tokens_details": {"reasoning_tokens": 0, "image_tokens": 0},
        },
    }


def vllm_chat() -> dict[str, Any]:
    return {
        "id": "chatcmpl-9b3c9d2f1e8a4b6c",
        "object": "chat.completion",
        "created": 1747226000,
        "model": "Qwen/Qwen2.5-7B-Instruct",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "reasoning_content": None,
                    "content": "Hi.",
                    "tool_calls": [],
                },
                "logprobs": None,
                "finish_reason": "stop",
                "stop_reason": None,
            }
        ],
        "usage": {
            "prompt_tokens": 12,
            "total_tokens": 15,
            "completion_tokens": 3,
            "prompt_tokens_details": None,
        },
        "prompt_logprobs": None,
    }


def gemini_chat() -> dict[str, Any]:
    return {
        "choices": [
            {"finish_reason": "stop", "index": 0, "message": {"content": "Xin chào!", "role": "assistant"}}
        ],
        "created": 1747226111,
        "id": "5wEsaNKjIMjb1dkPz4fEiQQ",
        "model": "gemini-2.5-flash",
        "object": "chat.completion",
        "usage": {"completion_tokens": 4, "prompt_tokens": 8, "total_tokens": 40},
    }


def deepseek_chat() -> dict[str, Any]:
    return {
        "id": "930c60df-bf64-41c9-a88e-3ec75f81e00e",
        "object": "chat.completion",
        "created": 1747226222,
        "model": "deepseek-chat",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello!"},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 11,
            "completion_tokens": 11,
            "total_tokens": 22,
            "prompt_tokens_details": {"cached_tokens": 0},
            "prompt_cache_hit_tokens": 0,
            "prompt_cache_miss_tokens": 11,
        },
        "system_fingerprint": "fp_8802369eaa_prod0425fp8",
    }


def chat_chunks(
    *,
    model: str = "gpt-4.1-2025-04-14",
    choices: int = 1,
    usage: dict[str, Any] | None = None,
    usage_null_on_chunks: bool = False,
    pieces: tuple[str, ...] = ("Hel", "lo", "!"),
    finish: str = "stop",
) -> list[dict[str, Any]]:
    """An OpenAI chat stream; ``usage`` adds the final usage-only chunk (``include_usage``)."""
    base = {
        "id": "chatcmpl-stream1",
        "object": "chat.completion.chunk",
        "created": 1741569952,
        "model": model,
    }
    base["system_fingerprint"] = "fp_b705f0c291"
    extra = {"usage": None} if usage_null_on_chunks else {}
    chunks: list[dict[str, Any]] = []
    for i in range(choices):
        delta = {"role": "assistant", "content": "", "refusal": None}
        chunks.append(
            {
                **base,
                **extra,
                "choices": [{"index": i, "delta": delta, "logprobs": None, "finish_reason": None}],
            }
        )
    for piece in pieces:
        for i in range(choices):
            choice = {"index": i, "delta": {"content": piece}, "logprobs": None, "finish_reason": None}
            chunks.append({**base, **extra, "choices": [choice]})
    for i in reversed(range(choices)):  # providers may finish choices out of index order
        choice = {"index": i, "delta": {}, "logprobs": None, "finish_reason": finish if i == 0 else "length"}
        chunks.append({**base, **extra, "choices": [choice]})
    if usage is not None:
        chunks.append({**base, "choices": [], "usage": usage})
    return chunks


def responses_object(*, status: str = "completed", function_call: bool = False) -> dict[str, Any]:
    output: list[dict[str, Any]] = [
        {
            "id": "msg_67ccd3acc8d48190a77525dc6de64b4104becb25c9c57dc8",
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Hello there!", "annotations": []}],
        }
    ]
    if function_call:
        output = [
            {
                "type": "function_call",
                "id": "fc_12345xyz",
                "call_id": "call_12345xyz",
                "name": "get_weather",
                "arguments": '{"location":"Paris"}',
                "status": "completed",
            }
        ]
    return {
        "id": "resp_67ccd3a9da748190baa7f1570fe91ac604becb25c9c57dc8",
        "object": "response",
        "created_at": 1741476777,
        "status": status,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
        "instructions": None,
        "max_output_tokens": None,
        "model": "gpt-4o-2024-08-06",
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": {
            "input_tokens": 328,
            "input_tokens_details": {"cached_tokens": 128},
            "output_tokens": 52,
            "output_tokens_details": {"reasoning_tokens": 16},
            "total_tokens": 380,
        },
        "user": None,
        "metadata": {},
    }


def responses_events() -> list[dict[str, Any]]:
    final = responses_object()
    created = {**final, "status": "in_progress", "output": [], "usage": None}
    item = final["output"][0]
    return [
        {"type": "response.created", "sequence_number": 0, "response": created},
        {"type": "response.in_progress", "sequence_number": 1, "response": created},
        {
            "type": "response.output_item.added",
            "sequence_number": 2,
            "output_index": 0,
            "item": {**item, "status": "in_progress", "content": []},
        },
        {
            "type": "response.content_part.added",
            "sequence_number": 3,
            "item_id": item["id"],
            "output_index": 0,
            "content_index": 0,
            "part": {"type": "output_text", "text": "", "annotations": []},
        },
        {
            "type": "response.output_text.delta",
            "sequence_number": 4,
            "item_id": item["id"],
            "output_index": 0,
            "content_index": 0,
            "delta": "Hello there!",
            "logprobs": [],
        },
        {"type": "response.completed", "sequence_number": 5, "response": final},
    ]


def embeddings(n: int = 2, dims: int = 4) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": [0.01 * (i + 1)] * dims} for i in range(n)],
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 8, "total_tokens": 8},
    }


def legacy_completion() -> dict[str, Any]:
    return {
        "id": "cmpl-uqkvlQyYK7bGYrRHQ0eXlWi7",
        "object": "text_completion",
        "created": 1589478378,
        "model": "gpt-3.5-turbo-instruct",
        "system_fingerprint": "fp_44709d6fcb",
        "choices": [
            {"text": "\n\nThis is indeed a test", "index": 0, "logprobs": None, "finish_reason": "length"}
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
    }


def error_body(status: int) -> dict[str, Any]:
    kinds = {400: "invalid_request_error", 401: "invalid_request_error", 404: "invalid_request_error"}
    return {
        "error": {
            "message": f"simulated error {status}",
            "type": kinds.get(status, "server_error"),
            "param": None,
            "code": {401: "invalid_api_key", 404: "model_not_found", 429: "rate_limit_exceeded"}.get(status),
        }
    }
