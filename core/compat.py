"""The OpenAI-compatible family as configurations of :class:`~.openai.OpenAIDialect`.

Every value here is the one OpenAI dialect with a few fields set; the only code is Azure's URL
builder. Nothing is decoded differently, so reasoning (``reasoning_content`` / ``reasoning``),
tool calls, streaming and errors behave the same for all of them.

* ``AZURE`` — Azure OpenAI. ``base_url`` is the resource endpoint
  (``https://<resource>.openai.azure.com``, also accepted with a trailing ``/openai`` or
  ``/openai/v1``); the model id of ``azure:<deployment>`` is the deployment name. ``api_version``
  picks the URL form:

  - ``None`` or ``"v1"`` → ``{endpoint}/openai/v1/chat/completions`` (the v1 API, no version);
  - a dated version (``"2024-10-21"``, ``"2025-04-01-preview"``) →
    ``{endpoint}/openai/deployments/{deployment}/chat/completions?api-version=…``;
  - anything else (``"preview"``) → the v1 path with ``?api-version=…``.

  Auth is the ``api-key`` header, or ``ProviderConfig.bearer_token`` (a Microsoft Entra ID token)
  as ``Authorization: Bearer``, which wins when both are set.
* ``XAI`` — xAI Grok at ``https://api.x.ai/v1``, bearer key; its ``completion_tokens`` leave the
  reasoning tokens out, so they are added back (see ``reasoning_in_completion``).
* ``DOCKER`` — Docker Model Runner, ``http://localhost:12434/engines/v1`` from the host
  (``http://model-runner.docker.internal/engines/v1`` from a container; ``…/engines/llama.cpp/v1``
  names the engine). No key. Model ids keep their namespace: ``docker:ai/smollm2`` → ``ai/smollm2``.
* ``OPENAI_COMPATIBLE`` — any other server (vLLM, LM Studio, llama.cpp, OpenRouter…): base URL
  required, key optional, ``max_tokens`` (the field every such server understands).

>>> from .schema import ChatRequest, Message
>>> from .secret import Secret
>>> req = ChatRequest(model="azure:my-gpt4o", messages=(Message.user("hi"),))
>>> cfg = ProviderConfig(base_url="https://res.openai.azure.com", api_key=Secret("k"), api_version="2024-10-21")
>>> r = AZURE.encode_request(req, cfg).unwrap()
>>> r.url, r.headers["api-key"]
('https://res.openai.azure.com/openai/deployments/my-gpt4o/chat/completions?api-version=2024-10-21', 'k')
>>> AZURE.encode_request(req, ProviderConfig(api_key=Secret("k"))).failure().kind
<ErrorKind.INVALID_REQUEST: 'invalid_request'>
>>> DOCKER.encode_request(ChatRequest(model="docker:ai/smollm2", messages=(Message.user("hi"),)),
...                       ProviderConfig()).unwrap().body
b'{"model":"ai/smollm2","messages":[{"role":"user","content":"hi"}]}'
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from .dialect import ProviderConfig, join_url
from .openai import OpenAIDialect

__all__ = ["AZURE", "DOCKER", "OPENAI_COMPATIBLE", "XAI", "azure_url"]

# What users paste as "the endpoint" besides the bare resource URL (the v1 docs show ".../openai/v1/").
_AZURE_SUFFIXES = ("/openai/v1", "/openai")


def azure_url(d: OpenAIDialect, base: str, model: str, cfg: ProviderConfig) -> str:
    """Azure's chat URL for ``cfg.api_version`` (see the module docstring for the three forms).

    >>> cfg = ProviderConfig(api_version="preview")
    >>> azure_url(AZURE, "https://r.openai.azure.com/openai/v1/", "gpt-4o", cfg)
    'https://r.openai.azure.com/openai/v1/chat/completions?api-version=preview'
    """
    endpoint = base.rstrip("/")
    for suffix in _AZURE_SUFFIXES:
        endpoint = endpoint.removesuffix(suffix)
    version = cfg.api_version
    if version is None or version == "v1":
        return join_url(endpoint, "/openai/v1" + d.chat_path)
    query = "?" + urlencode({"api-version": version})
    # Dated versions ("2024-10-21", "2025-04-01-preview") belong to the deployment-scoped API:
    # https://learn.microsoft.com/azure/ai-foundry/openai/reference#chat-completions
    if version[:1].isdigit():
        path = f"/openai/deployments/{quote(model, safe='')}" + d.chat_path
        return join_url(endpoint, path) + query
    return join_url(endpoint, "/openai/v1" + d.chat_path) + query


AZURE = OpenAIDialect(
    name="azure",
    default_base_url="",
    auth_header="api-key",
    auth_prefix="",
    url_for=azure_url,
    model_names=("azure",),
)
XAI = OpenAIDialect(
    name="xai",
    default_base_url="https://api.x.ai/v1",
    model_names=("xai", "grok"),
    reasoning_in_completion=False,
)
DOCKER = OpenAIDialect(
    name="docker",
    default_base_url="http://localhost:12434/engines/v1",
    key_required=False,
    max_tokens_field="max_tokens",
    model_names=("docker", "dmr"),
)
OPENAI_COMPATIBLE = OpenAIDialect(
    name="openai_compatible",
    default_base_url="",
    key_required=False,
    max_tokens_field="max_tokens",
    model_names=("openai_compatible",),
)
