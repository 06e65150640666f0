"""interlingua.core — the pure functional core: schema, errors, dialects, model strings.

Nothing here performs I/O, reads the clock or the environment, or draws random numbers; time,
jitter and configuration are arguments. (The one read is of this package's own data files, the
vendored tokenizer ranks, exactly as importing a module reads its source.)
"""

from .api import decode_response, decode_stream, encode_request, iter_stream
from .dialect import Dialect, ProviderConfig, StreamEvent
from .errors import ErrorKind, LlmError, LlmException, parse_retry_after
from .fold import Accumulator, accumulate, fold_chunks, to_response
from .http import Headers, HttpRequest, HttpResponse
from .models import PROVIDERS, ModelRef, detect_provider, parse_model
from .prepare import Prepared, prepare
from .registry import DIALECTS, SPECS, ProviderSpec, get_dialect, get_spec
from .schema import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    FinishReason,
    ImagePart,
    Message,
    ModelInfo,
    Part,
    ReasoningConfig,
    ReasoningPart,
    ResponseFormat,
    Role,
    TextPart,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
    ToolChoiceFunction,
    ToolSpec,
    Usage,
)
from .secret import Secret, redact

__all__ = [
    "DIALECTS",
    "PROVIDERS",
    "SPECS",
    "Accumulator",
    "ChatChunk",
    "ChatRequest",
    "ChatResponse",
    "Dialect",
    "ErrorKind",
    "FinishReason",
    "Headers",
    "HttpRequest",
    "HttpResponse",
    "ImagePart",
    "LlmError",
    "LlmException",
    "Message",
    "ModelInfo",
    "ModelRef",
    "Part",
    "Prepared",
    "ProviderConfig",
    "ProviderSpec",
    "ReasoningConfig",
    "ReasoningPart",
    "ResponseFormat",
    "Role",
    "Secret",
    "StreamEvent",
    "TextPart",
    "ToolCall",
    "ToolCallDelta",
    "ToolChoice",
    "ToolChoiceFunction",
    "ToolSpec",
    "Usage",
    "accumulate",
    "decode_response",
    "decode_stream",
    "detect_provider",
    "encode_request",
    "fold_chunks",
    "get_dialect",
    "get_spec",
    "iter_stream",
    "parse_model",
    "parse_retry_after",
    "prepare",
    "redact",
    "to_response",
]
