"""Posting to Slack and finding what was posted, with Slack's errors as the core's.

Every digest part carries its key in message metadata, so after a failure Slack may
have stored anyway (5xx, timeout, dropped connection) the core can ask `find` for it
before posting again (the rule in `bot.adapter`). Slack's error codes become the core's
exceptions: a channel gone, a token refused, a transient failure.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from adapters.slack.render import SlackMessage
from bot.adapter import AdapterStopped, ChannelGone, SendFailed

EVENT_TYPE = "paperboy_digest"
HISTORY_PAGES = 3  # how far back (x 100 messages) an uncertain post is looked for

GONE = {
    "not_in_channel": "the Slack app is not in this channel (not_in_channel); invite it back",
    "channel_not_found": "Slack cannot find this channel (channel_not_found)",
    "is_archived": "this channel was archived (is_archived)",
}
REFUSED = frozenset({"invalid_auth", "token_revoked", "account_inactive", "not_authed", "token_expired"})
_FLAKY = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})


class TokenRefused(AdapterStopped):
    def __init__(self, code: str) -> None:
        super().__init__(f"Slack refused SLACK_BOT_TOKEN ({code})")
        self.code = code


def fault(err: SlackApiError | aiohttp.ClientError | TimeoutError) -> Exception:
    """What a failed Web API call means for Paperboy, as one of the core's exceptions."""
    if not isinstance(err, SlackApiError):
        return SendFailed(f"no answer from Slack ({type(err).__name__})", uncertain=True)
    response = err.response  # an AsyncSlackResponse, or aiohttp's response when the body was not JSON
    status = int(getattr(response, "status_code", None) or getattr(response, "status", None) or 0)
    data = getattr(response, "data", None)
    code = str(data.get("error") or "") if isinstance(data, dict) else ""
    if code in GONE:
        return ChannelGone(GONE[code])
    if code in REFUSED:
        return TokenRefused(code)
    if status == 429:
        return SendFailed("rate limited by Slack (429)")
    if status >= 500 or code in _FLAKY:
        return SendFailed(f"Slack answered {status} {code}".rstrip(), uncertain=True)
    return SendFailed(f"Slack refused the call ({code or status})")


async def checked(call: Awaitable[AsyncSlackResponse]) -> AsyncSlackResponse:
    """Await a Web API call, turning its failure into `fault(...)`."""
    try:
        return await call
    except (SlackApiError, aiohttp.ClientError, TimeoutError) as err:
        raise fault(err) from err


class Poster:
    """chat.postMessage with the part key in metadata, and the look-up of posted keys."""

    def __init__(self, client: AsyncWebClient, bot_user: str) -> None:
        self._client = client
        self._bot_user = bot_user

    async def post(
        self, channel: str, message: SlackMessage, *, key: str | None = None, thread_ts: str | None = None
    ) -> str:
        """Post once and return the message's ts."""
        metadata = {"event_type": EVENT_TYPE, "event_payload": {"part": key}} if key else None
        response = await checked(
            self._client.chat_postMessage(
                channel=channel,
                text=message.text,
                blocks=list(message.blocks),
                thread_ts=thread_ts,
                metadata=metadata,
                unfurl_links=False,
                unfurl_media=False,
            )
        )
        return str(response["ts"])

    async def find(self, channel: str, keys: Iterable[str], thread_ts: str | None = None) -> dict[str, str]:
        """The ts of this bot's messages carrying these keys: in the thread of `thread_ts`,
        else among the channel's recent messages."""
        wanted = set(keys)
        found: dict[str, str] = {}
        cursor: str | None = None
        for _ in range(HISTORY_PAGES):
            if thread_ts:
                call = self._client.conversations_replies(
                    channel=channel, ts=thread_ts, cursor=cursor, limit=100, include_all_metadata=True
                )
            else:
                call = self._client.conversations_history(
                    channel=channel, cursor=cursor, limit=100, include_all_metadata=True
                )
            page = await checked(call)
            for message in page.get("messages") or []:
                metadata = message.get("metadata") or {}
                part = (metadata.get("event_payload") or {}).get("part")
                ours = message.get("user") == self._bot_user and metadata.get("event_type") == EVENT_TYPE
                if ours and part in wanted:
                    found[part] = str(message["ts"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if wanted <= found.keys() or cursor is None:
                break
        return found
