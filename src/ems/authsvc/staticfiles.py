"""WhiteNoise for the admin's static files, made ASGI-friendly.

WhiteNoise's Django middleware answers with a file response that iterates
synchronously; Django's ASGI handler can serve that only with a warning (it
reads the whole file in a worker thread). Here the same read happens through an
asynchronous iterator, which is what the handler expects. The admin's files are
small (tens of KB), so reading one whole is fine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from whitenoise.middleware import WhiteNoiseMiddleware

__all__ = ["AsgiWhiteNoiseMiddleware"]


class AsgiWhiteNoiseMiddleware(WhiteNoiseMiddleware):
    @staticmethod
    def serve(static_file: Any, request: Any) -> Any:
        response = WhiteNoiseMiddleware.serve(static_file, request)
        # Under WSGI (the test client) the synchronous iterator is the right one.
        if isinstance(request, ASGIRequest) and response.streaming and not response.is_async:
            response.streaming_content = _read_in_thread(response.streaming_content)
        return response


def _read_all(chunks: Iterable[bytes]) -> list[bytes]:
    return list(chunks)


async def _read_in_thread(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    # thread_sensitive=False: file reads need no particular thread (no database).
    for chunk in await sync_to_async(_read_all, thread_sensitive=False)(chunks):
        yield chunk
