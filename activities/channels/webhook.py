"""A Slack-compatible incoming webhook (httpx): ``{"text": ...}`` posted as JSON.

2xx is delivered; 408, 429 and 5xx (and no answer at all) are transient; any other 4xx is permanent:
the URL or the payload is wrong and repeating it cannot help. Every post carries the outbox key as
``Idempotency-Key`` so a receiver that honours it can drop the one possible duplicate (see the outbox).
The URL is a credential: it is read from the environment variable the program file names.
"""

from __future__ import annotations

import httpx

from activities.channels import Message, PermanentFailure, TransientFailure

_RETRYABLE = frozenset({408, 425, 429})


class WebhookChannel:
    name = "webhook"

    def __init__(self, url: str | None, url_env: str, timeout_seconds: float) -> None:
        self.url = url
        self.url_env = url_env
        self.timeout = timeout_seconds

    @staticmethod
    def payload(message: Message) -> dict[str, object]:
        return {"text": message.text}

    async def send(self, message: Message) -> None:
        if not self.url:
            # a missing secret is an operator fix, not a reason to drop the notice: wait and retry
            raise TransientFailure(f"webhook URL not set (environment variable {self.url_env})")
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as http:
                response = await http.post(
                    self.url, json=self.payload(message), headers={"Idempotency-Key": message.key}
                )
        except httpx.HTTPError as err:
            raise TransientFailure(f"webhook unreachable ({type(err).__name__})") from None
        code = response.status_code
        if 200 <= code < 300:
            return
        if code >= 500 or code in _RETRYABLE:
            raise TransientFailure(f"webhook answered {code}")
        raise PermanentFailure(f"webhook answered {code}")
