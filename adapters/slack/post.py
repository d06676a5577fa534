"""Posting to Slack, paced, and never twice.

After a failure that Slack may have stored anyway (5xx, timeout, dropped connection)
nothing is re-posted blindly: every digest part carries its key in message metadata,
and the channel or thread is searched for that key first. Slack's error codes become
the core's exceptions: a channel gone, a token refused, a transient failure.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Iterable

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from adapters.slack.pacing import Pacer, Timing
from adapters.slack.render import SlackMessage
from bot.adapter import AdapterStopped, ChannelGone, Outbox, SendFailed

log = logging.getLogger(__name__)

EVENT_TYPE = "paperboy_digest"
ATTEMPTS = 4  # tries of one post through 5xx and timeouts, with BACKOFF, 2x, 4x between
BACKOFF = 2.0
HISTORY_PAGES = 3  # how far back (x 100 messages) an uncertain post is looked for

GONE = {
    "not_in_channel": "the Slack app is not in this channel (not_in_channel); invite it back",
    "channel_not_found": "Slack cannot find this channel (channel_not_found)",
    "is_archived": "this channel was archived (is_archived)",
}
REFUSED = frozenset({"invalid_auth", "token_revoked", "account_inactive", "not_authed", "token_expired"})
_FLAKY = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})


class Transient(SendFailed):
    """A failure worth retrying; `uncertain` when Slack may have acted on the call anyway."""

    def __init__(self, reason: str, uncertain: bool) -> None:
        super().__init__(reason)
        self.uncertain = uncertain


class TokenRefused(AdapterStopped):
    def __init__(self, code: str) -> None:
        super().__init__(f"Slack refused SLACK_BOT_TOKEN ({code})")
        self.code = code


def fault(err: SlackApiError | aiohttp.ClientError | TimeoutError) -> Exception:
    """What a failed Web API call means for Paperboy, as one of the core's exceptions."""
    if not isinstance(err, SlackApiError):
        return Transient(f"no answer from Slack ({type(err).__name__})", uncertain=True)
    response = err.response  # an AsyncSlackResponse, or aiohttp's response when the body was not JSON
    status = int(getattr(response, "status_code", None) or getattr(response, "status", None) or 0)
    data = getattr(response, "data", None)
    code = str(data.get("error") or "") if isinstance(data, dict) else ""
    if code in GONE:
        return ChannelGone(GONE[code])
    if code in REFUSED:
        return TokenRefused(code)
    if status == 429:
        return Transient("rate limited by Slack (429)", uncertain=False)
    if status >= 500 or code in _FLAKY:
        return Transient(f"Slack answered {status} {code}".rstrip(), uncertain=True)
    return SendFailed(f"Slack refused the call ({code or status})")


async def checked(call: Awaitable[AsyncSlackResponse]) -> AsyncSlackResponse:
    """Await a Web API call, turning its failure into `fault(...)`."""
    try:
        return await call
    except (SlackApiError, aiohttp.ClientError, TimeoutError) as err:
        raise fault(err) from err


class Poster:
    """chat.postMessage with pacing, backoff and the metadata check before any re-post."""

    def __init__(self, client: AsyncWebClient, pacer: Pacer, timing: Timing, bot_user: str) -> None:
        self._client = client
        self._pacer = pacer
        self._timing = timing
        self._bot_user = bot_user

    async def post(
        self, channel: str, message: SlackMessage, *, key: str | None = None, thread_ts: str | None = None
    ) -> str:
        """Post and return the message's ts.

        With a `key`, a post that may have gone through is looked up before it is tried again;
        without one it is not tried again at all.
        """
        failure: Transient | None = None
        checking = False
        for attempt in range(ATTEMPTS):
            if attempt:
                await self._timing.sleep(BACKOFF * 2 ** (attempt - 1))
            try:
                if checking and key is not None:
                    found = await self.find(channel, [key], thread_ts)
                    if key in found:
                        log.info("Slack: %s reached %s despite the error; not posting it again", key, channel)
                        return found[key]
                    checking = False
                await self._pacer.wait(channel)
                return await self._post_once(channel, message, key, thread_ts)
            except Transient as err:
                failure = err
                checking = checking or err.uncertain
                if err.uncertain and key is None:
                    raise SendFailed(f"{err}; not retried, Slack may have posted it") from err
                log.warning("Slack: posting to %s failed (%s), attempt %d of %d", channel, err, attempt + 1, ATTEMPTS)
        raise SendFailed(f"{failure} after {ATTEMPTS} attempts") from failure

    async def _post_once(self, channel: str, message: SlackMessage, key: str | None, thread_ts: str | None) -> str:
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


async def deliver(poster: Poster, channel: str, parts: list[SlackMessage], outbox: Outbox) -> None:
    """Post the parts not yet sent, part 0 in the channel and the rest in its thread.

    When the outbox is uncertain, parts an earlier run may have posted are looked up first
    and recorded instead of being posted again.
    """
    sent = dict(outbox.sent)

    async def record(part: int, ts: str) -> None:
        sent[part] = ts
        await outbox.record(part, ts)

    missing = [part for part in range(len(parts)) if part not in sent]
    if outbox.uncertain and missing:
        if 0 in missing:
            for ts in (await poster.find(channel, [outbox.part_key(0)])).values():
                await record(0, ts)
        keys = {outbox.part_key(part): part for part in missing if part}
        if 0 in sent and keys:
            for key, ts in (await poster.find(channel, keys, sent[0])).items():
                await record(keys[key], ts)
        if len(sent) > len(outbox.sent):
            found = len(sent) - len(outbox.sent)
            log.info("Slack: %s found %d part(s) already posted in %s", outbox.key, found, channel)
    for part, message in enumerate(parts):
        if part not in sent:
            ts = await poster.post(channel, message, key=outbox.part_key(part), thread_ts=sent[0] if part else None)
            await record(part, ts)
