"""A local LLM API server (standard library only) with deterministic answers.

For tests, the quickstart, demos and benchmarks::

    with DevServer() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="test")
        server.script(status(429), delay(5))  # the next two calls: rate limited, then slow
        ...

It answers ``/chat/completions``, ``/completions``, ``/embeddings``, ``/responses`` (streamed or
not) and ``/models`` the way OpenAI, Azure OpenAI (``/openai/deployments/{name}/...`` paths),
OpenRouter, vLLM or Gemini shape them. It also answers the providers' own APIs, so their SDKs
run offline against it:

* Anthropic's Messages API, ``/v1/messages`` (streamed when the body says ``"stream": true``) and
  ``/v1/messages/count_tokens``: ``anthropic.Anthropic(base_url=server.origin)``; through Vertex
  AI, ``/v1/projects/{p}/locations/{l}/publishers/anthropic/models/{model}:rawPredict`` (and
  ``:streamRawPredict``): ``AnthropicVertex(base_url=server.origin + "/v1", access_token=...)``;
* the Gemini API, ``/v1beta/models/{model}:generateContent`` (also ``/v1/...``),
  ``:streamGenerateContent`` (SSE with ``?alt=sse``, else a JSON array), ``:countTokens``,
  ``:embedContent``, ``:batchEmbedContents``, and on Vertex AI
  ``/v1beta1/projects/{p}/locations/{l}/publishers/google/models/{model}:...`` (also ``/v1/...``,
  and ``:predict`` for text embeddings): ``genai.Client(http_options=HttpOptions(base_url=
  server.origin), ...)``. The API key, header or ``?key=``, is recorded like any request.

``anthropic_status()`` and ``google_status()`` script an error in those providers' shapes.
``python -m tokentrace.demo.server --port 8000`` serves until Ctrl-C.

Usage follows rules simple enough to compute by hand in a test:

* a *word* (``len(text.split())``) is one token;
* a chat message, Responses input item, Anthropic message or Gemini content costs
  ``3 + words(content)`` (plus the words of tool-call names and arguments it carries); an image
  part 85; each tool definition (a Gemini function declaration) 10; Responses ``instructions``,
  Anthropic ``system`` and Gemini ``systemInstruction`` count as one more message; legacy prompts
  and embedding inputs are just their words (token arrays their length);
* when the first message (or ``instructions``) has at least 32 words, ``cached_tokens`` is that
  message's token count, as if it were served from the prompt cache (Gemini:
  ``cachedContentTokenCount``); Anthropic caches only at ``cache_control`` breakpoints: the first
  request with a prefix writes it (``cache_creation_input_tokens``), later ones read it
  (``cache_read_input_tokens``), until ``reset()``;
* reasoning models (``o1``, ``o3``, ``o4-mini``, ``gpt-5``..., also as ``openai/o3``) think for 16
  tokens per choice (effort ``minimal``/``none`` 0, ``low`` 8, ``high`` 32, ``xhigh`` 64), counted
  in the output tokens and spent first from ``max_completion_tokens``/``max_output_tokens``;
  thinking Gemini models (``gemini-2.5-*`` but ``-lite``, ``gemini-3*``) likewise, in
  ``thoughtsTokenCount`` (``thinkingLevel`` low 8, high 32; ``thinkingBudget`` caps it) and spent
  first from ``maxOutputTokens``;
* choice ``i`` answers ``"Reply {i+1}: "`` plus the first 16 words of the last user message
  (``Hello!`` when there is none), one output token per word, one stream delta per token;
  ``max_tokens``/``max_completion_tokens`` cut it (finish reason ``length``, Anthropic's
  ``max_tokens``, Gemini's ``MAX_TOKENS``); legacy completions stop at 16 tokens unless
  ``max_tokens`` says otherwise; Gemini streams four words per chunk;
* with function ``tools`` (and ``tool_choice`` not ``"none"``) the first choice calls the first
  (or the named) function, its required parameters filled with ``"demo"``, 1, true, [] or {}; the
  call costs one token per JSON token of its arguments;
* ids and fingerprints derive from the request's number on the server, so a fresh server answers
  the same bytes every run (apart from ``created`` timestamps).
"""

from __future__ import annotations

from ._cli import main
from ._endpoints import DEFAULT_EMBEDDING_DIMENSIONS, LEGACY_DEFAULT_MAX_TOKENS
from ._google import google_status
from ._messages import anthropic_status
from ._scripted import Scripted, default, delay, disconnect, error_body, json, raw, sse, status
from ._server import DevServer, RecordedRequest
from ._synth import CACHE_MIN_WORDS, IMAGE_TOKENS, MESSAGE_OVERHEAD, TOOL_DEFINITION_TOKENS

__all__ = [
    "CACHE_MIN_WORDS",
    "DEFAULT_EMBEDDING_DIMENSIONS",
    "IMAGE_TOKENS",
    "LEGACY_DEFAULT_MAX_TOKENS",
    "MESSAGE_OVERHEAD",
    "TOOL_DEFINITION_TOKENS",
    "DevServer",
    "anthropic_status",
    "RecordedRequest",
    "Scripted",
    "default",
    "delay",
    "disconnect",
    "error_body",
    "google_status",
    "json",
    "main",
    "raw",
    "sse",
    "status",
]
