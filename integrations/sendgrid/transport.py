"""The SendGrid SDK's HTTP client (python-http-client) with one urllib opener for all requests.

python-http-client builds a new urllib opener for every request: ten handler objects, each
introspected method by method, and a scan of the whole environment for proxy settings. On a
first day's track-referrals that was 12% of each mail's CPU. This subclass builds the opener
once and otherwise sends what the SDK sends: the same URL (its ``_build_url``), the SDK's
headers (``Authorization``, ``User-Agent``, ``Accept``), the same JSON body and timeout, and
the same errors, because the request goes through the SDK's own ``_make_request`` (non-2xx
answers become its ``HTTPError`` subclasses) and comes back as its ``Response``.

Still one connection per request, as the SDK does: a kept-alive connection that SendGrid
closes while a request is on its way turns that mail into one whose fate only SendGrid knows
(``in_doubt``, for a person), which costs far more than a connect.
"""

from __future__ import annotations

import functools
import json
import urllib.request
from typing import Any

from python_http_client import Client
from python_http_client.client import Response


class OneOpenerClient(Client):
    """``python_http_client.Client`` whose requests share one opener."""

    def __init__(
        self, *args: Any, opener: urllib.request.OpenerDirector | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.opener = opener or urllib.request.build_opener()

    def _build_client(self, name: str | None = None) -> OneOpenerClient:
        """The next segment of the fluent path (``client.mail.send``), sharing the opener."""
        return OneOpenerClient(
            host=self.host,
            version=self._version,
            request_headers=self.request_headers,
            url_path=[*self._url_path, name] if name else self._url_path,
            append_slash=self.append_slash,
            timeout=self.timeout,
            opener=self.opener,
        )

    def __getattr__(self, name: str) -> Any:
        if name in self.methods:
            return functools.partial(self._request, name.upper())
        return super().__getattr__(name)

    def _request(
        self,
        method: str,
        request_body: Any = None,
        query_params: dict[str, Any] | None = None,
        request_headers: dict[str, str] | None = None,
        timeout: float | None = None,
        **_: Any,
    ) -> Response:
        """The SDK's ``http_request`` on the shared opener, without its debug logging of
        bodies and headers (they carry addresses and the API key)."""
        if request_headers:
            self._update_headers(request_headers)
        data = None
        if request_body is not None:
            content_type = self.request_headers.get("Content-Type")
            if content_type is not None and content_type != "application/json":
                data = request_body.encode("utf-8")
            else:
                self.request_headers.setdefault("Content-Type", "application/json")
                data = json.dumps(request_body).encode("utf-8")
        request = urllib.request.Request(
            self._build_url(query_params), data=data, headers=self.request_headers, method=method
        )
        return Response(self._make_request(self.opener, request, timeout=timeout))
