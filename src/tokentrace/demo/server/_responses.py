"""The Responses API (``POST /v1/responses``): a response object, or its SSE event sequence.

Reasoning models put a ``reasoning`` item before the answer; a function tool is called instead of
answering when tools are given (unless ``tool_choice`` is ``"none"``); ``max_output_tokens`` that
cuts the answer makes the response ``incomplete`` (and the stream end in ``response.incomplete``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._endpoints import Call, missing, reply, requested_model, response_headers
from ._scripted import Scripted, encode_json, sse
from ._shapes import Json
from ._synth import (
    Completion,
    argument_pieces,
    chat_prompt,
    complete,
    dated_model,
    is_reasoning_model,
    make_id,
    reasoning_budget,
    reply_words,
    tool_call_for,
)

__all__ = ["responses"]

_HEX = "0123456789abcdef"


def _function_tool(tool: object) -> object:
    """Echo a tool as the API does: function tools gain their defaulted fields."""
    if isinstance(tool, Mapping) and tool.get("type") == "function":
        return {"description": None, "strict": True, **tool}
    return tool


class _Build:
    """Everything one Responses call answers, computed once."""

    def __init__(self, call: Call, model: str) -> None:
        body = call.body
        self.call = call
        self.model = model
        items: list[object] = []
        instructions = body.get("instructions")
        if isinstance(instructions, str) and instructions:
            items.append({"role": "system", "content": instructions})
        source = body.get("input")
        if isinstance(source, str):
            items.append({"role": "user", "content": source})
        elif isinstance(source, list):
            items.extend(source)
        self.prompt = chat_prompt(items, body.get("tools"))
        reasoning_options = body.get("reasoning")
        effort = reasoning_options.get("effort") if isinstance(reasoning_options, Mapping) else None
        self.effort = effort
        self.thinks = is_reasoning_model(model)
        reasoning = reasoning_budget(model, effort)
        limit = body.get("max_output_tokens")
        self.tool = tool_call_for(body.get("tools"), body.get("tool_choice"))
        if self.tool is not None:
            self.completion = Completion(argument_pieces(self.tool[1]), reasoning, truncated=False)
        else:
            self.completion = complete(reply_words(self.prompt.echo, 0), limit, reasoning)
        seed = f"{call.seq}"
        self.response_id = "resp_" + make_id(f"resp:{seed}", 48, _HEX)
        self.message_id = "msg_" + make_id(f"msg:{seed}", 48, _HEX)
        self.reasoning_id = "rs_" + make_id(f"rs:{seed}", 48, _HEX)
        self.function_id = "fc_" + make_id(f"fc:{seed}", 48, _HEX)
        self.call_id = "call_" + make_id(f"call:{seed}", 24)

    @property
    def status(self) -> str:
        return "incomplete" if self.completion.truncated else "completed"

    def reasoning_item(self) -> Json:
        return {"id": self.reasoning_id, "type": "reasoning", "summary": []}

    def answer_item(self, done: bool) -> Json:
        if self.tool is not None:
            name, arguments = self.tool
            return {
                "id": self.function_id,
                "type": "function_call",
                "status": "completed" if done else "in_progress",
                "arguments": arguments if done else "",
                "call_id": self.call_id,
                "name": name,
            }
        return {
            "id": self.message_id,
            "type": "message",
            "status": self.status if done else "in_progress",
            "content": [self.text_part(self.completion.text)] if done else [],
            "role": "assistant",
        }

    def text_part(self, text: str) -> Json:
        return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}

    def output(self) -> list[Json]:
        return [self.reasoning_item(), self.answer_item(True)] if self.thinks else [self.answer_item(True)]

    def usage(self) -> Json:
        completion = self.completion
        return {
            "input_tokens": self.prompt.tokens,
            "input_tokens_details": {"cached_tokens": self.prompt.cached, "cache_write_tokens": 0},
            "output_tokens": completion.tokens,
            "output_tokens_details": {"reasoning_tokens": completion.reasoning},
            "total_tokens": self.prompt.tokens + completion.tokens,
        }

    def response(self, final: bool) -> Json:
        """The response object: in progress (no output, no usage) or final."""
        body = self.call.body
        tools = body.get("tools")
        status = self.status if final else "in_progress"
        return {
            "id": self.response_id,
            "object": "response",
            "created_at": self.call.created,
            "status": status,
            "background": body.get("background") is True,
            "completed_at": self.call.created if final and status == "completed" else None,
            "error": None,
            "incomplete_details": {"reason": "max_output_tokens"}
            if final and status == "incomplete"
            else None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "max_tool_calls": body.get("max_tool_calls"),
            "model": self.model,
            "output": self.output() if final else [],
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "previous_response_id": body.get("previous_response_id"),
            "prompt_cache_key": body.get("prompt_cache_key"),
            "reasoning": {"effort": self.effort or ("medium" if self.thinks else None), "summary": None},
            "safety_identifier": body.get("safety_identifier"),
            "service_tier": "default",
            "store": body.get("store", True),
            "temperature": body.get("temperature", 1.0),
            "text": body.get("text", {"format": {"type": "text"}, "verbosity": "medium"}),
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": [_function_tool(t) for t in tools] if isinstance(tools, list) else [],
            "top_logprobs": body.get("top_logprobs", 0),
            "top_p": body.get("top_p", 1.0),
            "truncation": body.get("truncation", "disabled"),
            "usage": self.usage() if final else None,
            "user": body.get("user"),
            "metadata": body.get("metadata", {}),
        }

    def events(self, obfuscate: bool) -> list[bytes]:
        events: list[bytes] = []

        def emit(kind: str, **fields: Any) -> None:
            data = {"type": kind, "sequence_number": len(events), **fields}
            if obfuscate and kind.endswith(".delta"):
                data["obfuscation"] = make_id(f"obf:{len(events)}", 1 + len(events) % 7)
            events.append(b"event: " + kind.encode() + b"\ndata: " + encode_json(data) + b"\n\n")

        emit("response.created", response=self.response(False))
        emit("response.in_progress", response=self.response(False))
        index = 0
        if self.thinks:
            emit("response.output_item.added", output_index=index, item=self.reasoning_item())
            emit("response.output_item.done", output_index=index, item=self.reasoning_item())
            index += 1
        emit("response.output_item.added", output_index=index, item=self.answer_item(False))
        if self.tool is not None:
            where = {"item_id": self.function_id, "output_index": index}
            for piece in self.completion.pieces:
                emit("response.function_call_arguments.delta", **where, delta=piece)
            emit("response.function_call_arguments.done", **where, arguments=self.tool[1])
        else:
            where = {"item_id": self.message_id, "output_index": index, "content_index": 0}
            emit("response.content_part.added", **where, part=self.text_part(""))
            for piece in self.completion.pieces:
                emit("response.output_text.delta", **where, delta=piece, logprobs=[])
            emit("response.output_text.done", **where, text=self.completion.text, logprobs=[])
            emit("response.content_part.done", **where, part=self.text_part(self.completion.text))
        emit("response.output_item.done", output_index=index, item=self.answer_item(True))
        emit(f"response.{self.status}", response=self.response(True))
        return events


def responses(call: Call) -> Scripted:
    requested = requested_model(call)
    if requested is None:
        return missing("model")
    if call.body.get("input") is None and not call.body.get("instructions"):
        return missing("input")
    build = _Build(call, call.deployment_model or dated_model(requested))
    if call.body.get("stream"):
        # Usage always arrives with the final event; stream_options does not apply here.
        return sse(build.events(obfuscate=call.flavor == "openai"), headers=response_headers(call))
    return reply(call, build.response(True))
