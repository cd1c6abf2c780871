"""One Gemini call of the google-genai SDK: its client, its stream on a worker thread that the
caller stops waiting for at the deadline, an explicit cache it may make, and what each fault
means. Used by ``google_sdk``; the SDK is passed in, never imported here."""

from __future__ import annotations

import os
import re
import threading
import time
from typing import TYPE_CHECKING, Any

from harness.vendors import common, google_cache
from harness.vendors.errors import (
    ContextTooLongError,
    MalformedResponseError,
    RateLimitedError,
    TransientVendorError,
    VendorAuthError,
    VendorError,
    VendorTimeoutError,
)
from harness.vendors.types import ModelRequest

if TYPE_CHECKING:
    from google.genai import types as gt


class Call:
    """One ``complete``: the key, where it came from, and how its faults are classified."""

    def __init__(self, vendor: str, request: ModelRequest, key: str,
                 key_env: str, errors: Any) -> None:
        self.vendor, self.request, self.key, self.key_env = vendor, request, key, key_env
        self.errors = errors  # google.genai.errors, imported with the SDK
        self.cache_lost = False
        self._client: Any = None

    def client(self, genai: Any, types: Any, left: float) -> Any:
        """The SDK client for this call, made once (a Client builds its transports and TLS
        context, 0.15-0.3 s here): a retry reuses it, with its own timeout per request."""
        if self._client is None:
            s = self.request.settings
            self._client = genai.Client(
                api_key=self.key, vertexai=False, http_options=types.HttpOptions(
                    base_url=s.base_url or os.environ.get("GOOGLE_GEMINI_BASE_URL"),
                    timeout=max(int(left * 1000), 1),
                    retry_options=types.HttpRetryOptions(attempts=1)))
        return self._client

    def create_cache(self, genai: Any, types: Any,
                     digest: str) -> tuple[google_cache.Handle, int] | None:
        """An explicit cache of the request's stable prefix, and its size in tokens. One that
        cannot be made is no failure: the request goes on with implicit caching."""
        request = self.request
        ttl = google_cache.ttl_seconds(request)
        stable = types.Content(role="user", parts=[types.Part(
            text=google_cache.stable_text(request))])
        # Held in a name: a Client closes its transport when it is collected.
        client = self.client(genai, types, request.remaining())
        try:
            made = client.caches.create(
                model=request.settings.model_id, config=types.CreateCachedContentConfig(
                    system_instruction=request.system or None, tools=tools(types, request),
                    contents=[stable], ttl=f"{ttl}s", display_name="harness stable prefix"))
        except (self.errors.APIError, OSError, ValueError):
            return None
        tokens = int(getattr(made.usage_metadata, "total_token_count", None) or 0)
        return google_cache.Handle(str(made.name), digest, time.time() + ttl), tokens

    def clean(self, text: str) -> str:
        text = common.redact(text)
        return text.replace(self.key, "[redacted]") if len(self.key) >= 4 else text

    def error(self, cls: type[VendorError], text: str) -> VendorError:
        return cls(self.vendor, self.clean(text))

    def stream(self, genai: Any, types: Any, contents: list[gt.Content],
               config: gt.GenerateContentConfig,
               left: float) -> list[gt.GenerateContentResponse]:
        """One request, all of its SSE chunks, or the classified fault; at most ``left``."""
        if left <= 0.01:
            raise self.error(VendorTimeoutError, "the deadline passed before the call")
        s = self.request.settings
        box: dict[str, Any] = {}
        done, stop = threading.Event(), threading.Event()

        def work() -> None:
            try:
                client = self.client(genai, types, left)
                timed = config.model_copy(update={"http_options": types.HttpOptions(
                    timeout=max(int(left * 1000), 1))})
                chunks = []
                for chunk in client.models.generate_content_stream(
                        model=s.model_id, contents=contents, config=timed):
                    chunks.append(chunk)
                    if stop.is_set():  # abandoned at the deadline: close the stream
                        break
                box["chunks"] = chunks
            except Exception as exc:
                box["error"] = exc
            finally:
                done.set()

        threading.Thread(target=work, name="gemini-call", daemon=True).start()
        if not done.wait(left):
            stop.set()
            raise self.error(VendorTimeoutError, f"no complete answer within {left:.1f}s "
                             "(the stage's deadline)")
        if "error" in box:
            raise self.fault(box["error"]) from None
        chunks: list[gt.GenerateContentResponse] = box["chunks"]
        if not chunks:
            raise self.error(MalformedResponseError, "a 200 with an empty stream")
        return chunks

    def fault(self, exc: Exception) -> Exception:
        """The VendorError (or RetryAfter wrapping one) an SDK or transport exception means."""
        if isinstance(exc, self.errors.APIError):
            return self.api_fault(exc)
        kinds = {c.__name__ for c in type(exc).__mro__}
        if "TimeoutException" in kinds:
            return self.error(VendorTimeoutError, f"no answer before the deadline ({exc})")
        if "TransportError" in kinds or isinstance(exc, OSError):
            return common.RetryAfter(self.error(
                TransientVendorError, f"connection failed: {type(exc).__name__}: {exc}"))
        if isinstance(exc, ValueError):  # JSON that does not parse, or not Gemini's shape
            return self.error(MalformedResponseError, f"not a Gemini response: {exc}"[:500])
        return self.error(VendorError, f"unexpected {type(exc).__name__}: {exc}")

    def api_fault(self, exc: Any) -> Exception:
        code, status, msg = int(exc.code or 0), str(exc.status or ""), str(exc.message or "")
        body = exc.details.get("error", exc.details) if isinstance(exc.details, dict) else {}
        details = [d for d in body.get("details") or [] if isinstance(d, dict)]
        said = f"{code} {status}: {msg}"
        if "CachedContent not found" in msg:  # our explicit cache expired: resend without it
            self.cache_lost = True
            return common.RetryAfter(self.error(TransientVendorError, said), 0.0)
        if (code in (401, 403) or status in ("UNAUTHENTICATED", "PERMISSION_DENIED")
                or any(d.get("reason") == "API_KEY_INVALID" for d in details)
                or "api key not valid" in msg.lower()):
            return self.error(VendorAuthError, f"the key in {self.key_env} was refused ({said}); "
                              "check it, or name another variable with api_key_env")
        after = _retry_after(exc, details)
        if code == 429 or status == "RESOURCE_EXHAUSTED":
            return common.RetryAfter(self.error(RateLimitedError, f"rate limited ({said})"),
                                     after)
        if code == 400 and _TOO_LONG.search(msg):
            return self.error(ContextTooLongError, f"the prompt does not fit ({said})")
        if code in (408, 499) or code >= 500 or status in _TRANSIENT:
            return common.RetryAfter(self.error(TransientVendorError, said), after)
        return self.error(VendorError, f"request refused ({said})")


_TRANSIENT = frozenset({"UNAVAILABLE", "INTERNAL", "DEADLINE_EXCEEDED", "ABORTED"})
_TOO_LONG = re.compile(r"token count|maximum number of tokens|context (window|length)|too long",
                       re.I)


def tools(types: Any, request: ModelRequest) -> list[gt.Tool] | None:
    # Declarations only, no callables: the pipeline runs the tools, never the SDK. In the
    # stage's own order, so every request of a stage has the same prefix.
    return [types.Tool(function_declarations=[types.FunctionDeclaration(
        name=t.name, description=t.description, parameters_json_schema=dict(t.input_schema))
        for t in request.tools])] if request.tools else None


def _retry_after(exc: Any, details: list[dict[str, Any]]) -> float | None:
    """The server's hint: a Retry-After header, else a google.rpc.RetryInfo detail."""
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    for raw in [headers.get("retry-after")] + [str(d.get("retryDelay")) for d in details
                                               if str(d.get("@type", "")).endswith("RetryInfo")]:
        try:
            return max(float(str(raw).removesuffix("s")), 0.0)
        except ValueError:
            continue
    return None
