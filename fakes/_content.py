"""How every fake decides what to answer. Deterministic: the same request gets the same answer.

The rule, for all providers alike:

* **Text.** The answer to a user turn whose text is ``P`` is
  ``"Fake reply: " + P`` (P cut to its first 60 words), so tests can predict it.
  An empty prompt gets ``"Fake reply: (empty prompt)"``.
* **Tool calls.** When tools are offered, the fake calls one when the tool choice *demands* it
  (OpenAI ``required`` or a named function, Anthropic ``any``/``tool``, Gemini ``ANY``) or, under
  ``auto``, when the last user text contains ``call <tool_name>`` or the tool's name. The
  arguments fill the tool's JSON schema: every required property (or every property if none is
  required) gets a sample of its type (``"sample"``, 1, 1.5, true, [], {} recursively, or the
  first ``enum`` value) — except that a top-level string property takes the prompt's last
  capitalised word after its first word, when there is one, so ``Weather in Paris?`` gives
  ``{"city": "Paris"}`` (a demo reads naturally; tests can still predict the value).
* **After a tool result** the answer is ``"Fake reply: tool <name> returned <content>"``.
* **Structured output.** With a JSON schema response format, the answer is the JSON sample of that
  schema (same filling rule as tool arguments).
* **Limits.** ``max_tokens`` cuts the answer to that many tokens (finish reason: length);
  a stop sequence found in the answer cuts it before the sequence (finish reason: stop).
* **Thinking.** When reasoning is requested the answer is preceded by the reasoning text
  ``"Thinking about: " + P``.
* **Usage.** Prompt and completion tokens are counted with the real ``o200k_base`` tokenizer.
* **Scripts.** A scripted answer (``fake.script(provider, responses=[...])``) replaces the rule for
  one request: a ``str`` is the answer text; ``{"tool": name, "arguments": {...}}`` a tool call;
  ``{"text": ..., "finish": ..., "reasoning": ...}`` spells everything out; a :class:`Decision` is
  used as is.
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import re
from collections.abc import Sequence
from typing import Any

import msgspec

from interlingua.core.tokens import get_encoding

from ._jsonenc import compact, dumps_sorted

__all__ = [
    "SCRIPTED",
    "Decision",
    "as_decision",
    "count_tokens",
    "decide",
    "sample_for_schema",
    "split_for_stream",
    "stable_id",
]

PREFIX = "Fake reply: "


@functools.lru_cache(maxsize=4096)
def count_tokens(text: str) -> int:
    # Memoised: the same prompts and replies recur (tests, load and benchmark runs), and tokenizing
    # them afresh on every request made the fake, not the client, the bottleneck of a load run.
    return len(get_encoding("o200k_base").encode(text, disallowed_special=()))


def stable_id(*parts: object, n: int = 24) -> str:
    return hashlib.sha256(dumps_sorted(parts).encode()).hexdigest()[:n]


def sample_for_schema(schema: Any, depth: int = 0) -> Any:
    if not isinstance(schema, dict) or depth > 8:
        return "sample"
    if schema.get("enum"):
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return sample_for_schema(schema[key][0], depth + 1)
    t = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), "null")
    t = str(t).lower()
    if t == "object":
        props = schema.get("properties") or {}
        keys = schema.get("required") or list(props)
        return {k: sample_for_schema(props.get(k, {}), depth + 1) for k in keys}
    if t == "array":
        items = schema.get("items")
        return [sample_for_schema(items, depth + 1)] if isinstance(items, dict) and items else []
    return {"string": "sample", "integer": 1, "number": 1.5, "boolean": True, "null": None}.get(t, "sample")


class Decision(msgspec.Struct, kw_only=True):
    text: str = ""
    reasoning: str = ""
    tool_name: str | None = None
    tool_args: dict[str, Any] | None = None
    finish: str = "stop"  # "stop" | "length" | "tool_calls"


# The scripted answer for the request being handled (set per request task by ``_server.record``).
SCRIPTED: contextvars.ContextVar[object | None] = contextvars.ContextVar("interlingua_fake_script", default=None)


def as_decision(item: object) -> Decision:
    """A scripted item (see the module docstring) as a :class:`Decision`."""
    if isinstance(item, Decision):
        return item
    if isinstance(item, str):
        return Decision(text=item)
    if isinstance(item, dict):
        if "tool" in item:
            return Decision(tool_name=str(item["tool"]), tool_args=dict(item.get("arguments") or {}), finish="tool_calls",
                            reasoning=str(item.get("reasoning", "")))
        return Decision(text=str(item.get("text", "")), reasoning=str(item.get("reasoning", "")),
                        finish=str(item.get("finish", "stop")))
    raise TypeError(f"cannot script a fake answer from {type(item).__name__}: use str, dict or Decision")


_WORD = re.compile(r"[A-Z][\w'-]*")


def _from_prompt(args: Any, params: Any, prompt: str) -> Any:
    """Top-level plain string arguments take the prompt's last capitalised word after its first word."""
    words = _WORD.findall(" ".join(prompt.split()[1:]))
    if not words or not isinstance(args, dict) or not isinstance(params, dict):
        return args
    props = params.get("properties") or {}
    plain = {k for k, v in props.items() if isinstance(v, dict) and v.get("type") == "string"
             and not {"enum", "const", "format", "pattern"} & v.keys()}
    return {k: (words[-1] if k in plain else v) for k, v in args.items()}


def decide(
    *,
    prompt: str,
    tools: Sequence[tuple[str, dict[str, Any]]] = (),
    choice: str = "auto",
    forced_tool: str | None = None,
    tool_result: tuple[str, str] | None = None,
    schema: dict[str, Any] | None = None,
    json_mode: bool = False,
    max_tokens: int | None = None,
    stop: Sequence[str] = (),
    thinking: bool = False,
) -> Decision:
    """The provider-neutral answer. ``choice`` is ``auto`` | ``none`` | ``required``."""
    scripted = SCRIPTED.get()
    if scripted is not None:
        return as_decision(scripted)
    reasoning = f"Thinking about: {prompt or '(empty prompt)'}" if thinking else ""
    if tool_result is None and tools and choice != "none":
        names = [n for n, _ in tools]
        target = forced_tool if forced_tool in names else None
        if target is None:
            low = prompt.lower()
            mentioned = [n for n in names if f"call {n.lower()}" in low] or [n for n in names if n.lower() in low]
            if mentioned:
                target = mentioned[0]
            elif choice == "required":
                target = names[0]
        if target is not None:
            params = dict(tools)[target]
            args = sample_for_schema(params if params else {"type": "object", "properties": {}})
            args = _from_prompt(args, params, prompt)
            return Decision(reasoning=reasoning, tool_name=target, tool_args=args, finish="tool_calls")
    if tool_result is not None:
        text = f"{PREFIX}tool {tool_result[0]} returned {tool_result[1][:200]}"
    elif schema is not None:
        text = compact(sample_for_schema(schema)).decode()
    elif json_mode:
        text = compact({"reply": prompt[:200]}).decode()
    else:
        words = prompt.split()
        shown = " ".join(words[:60]) if words else "(empty prompt)"
        text = PREFIX + shown
    finish = "stop"
    for s in stop:
        if s and s in text:
            text = text[: text.index(s)]
            break
    if max_tokens is not None and max_tokens >= 0:
        text, cut = _cut(text, max_tokens)
        if cut:
            finish = "length"
    return Decision(text=text, reasoning=reasoning, finish=finish)


@functools.lru_cache(maxsize=4096)
def _cut(text: str, max_tokens: int) -> tuple[str, bool]:
    """``text`` cut to ``max_tokens`` tokens, and whether it was cut. Memoised like ``count_tokens``:
    Anthropic requires ``max_tokens`` on every request, so this tokenized every answer again."""
    if len(text) <= max_tokens:
        return text, False  # a token covers at least one character
    enc = get_encoding("o200k_base")
    toks = enc.encode(text, disallowed_special=())
    if len(toks) > max_tokens:
        return enc.decode(toks[:max_tokens]), True
    return text, False


def split_for_stream(text: str, size: int = 2) -> list[str]:
    """Cut ``text`` into pieces of ``size`` words (keeping spaces), as token streams look."""
    if not text:
        return []
    words = text.split(" ")
    out = []
    for i in range(0, len(words), size):
        piece = " ".join(words[i : i + size])
        out.append(piece if i == 0 else " " + piece)
    return out
