"""Slack installations in Paperboy's database, encrypted, for the OAuth install to many workspaces.

slack_sdk's `AsyncInstallationStore` on top of the store's `installations` table. Each
installation (and its bot) is stored as JSON encrypted with Fernet under
PAPERBOY_SECRET_KEY, so the database never holds a token in plain text; the key stays in
the environment. Imported only in this mode, and so is `cryptography`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from slack_bolt.error import BoltError
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation

from bot.adapter import Installations
from bot.config import ConfigError

log = logging.getLogger(__name__)

PLATFORM = "slack"
BOT = "bot"
INSTALLATION = "installation"  # user_id "": the workspace's latest; the installer's id: theirs
MAKE_KEY = 'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'


def cipher(key: str) -> Fernet:
    """The Fernet of PAPERBOY_SECRET_KEY, or ConfigError saying how to make one."""
    if not key:
        raise ConfigError(f"PAPERBOY_SECRET_KEY is required with SLACK_CLIENT_ID, to encrypt workspace tokens: "
                          f"make one with {MAKE_KEY}")
    try:
        return Fernet(key)
    except ValueError:  # binascii.Error too
        raise ConfigError(f"PAPERBOY_SECRET_KEY must be a Fernet key (32 url-safe base64-encoded bytes): "
                          f"make one with {MAKE_KEY}") from None


class EncryptedInstallations(AsyncInstallationStore):
    """Bot-token installations by workspace (team id); org-wide (Enterprise Grid) installs are refused."""

    def __init__(self, rows: Installations, fernet: Fernet, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._rows = rows
        self._fernet = fernet
        self._clock = clock

    @property
    def logger(self) -> logging.Logger:
        return log

    def _seal(self, record: Installation | Bot) -> str:
        return self._fernet.encrypt(json.dumps(vars(record)).encode()).decode()

    def _open(self, secret: str | None) -> dict[str, Any] | None:
        if secret is None:
            return None
        try:
            return dict(json.loads(self._fernet.decrypt(secret.encode())))
        except InvalidToken:
            log.error("Slack: a stored installation cannot be decrypted: PAPERBOY_SECRET_KEY is not the key it was "
                      "saved with; install the app again in that workspace")
            return None

    async def async_save(self, installation: Installation) -> None:
        team = _team(installation.team_id)
        secrets = {(INSTALLATION, ""): self._seal(installation), (BOT, ""): self._seal(installation.to_bot())}
        if installation.user_id:
            secrets[(INSTALLATION, installation.user_id)] = secrets[(INSTALLATION, "")]
        await self._rows.save_installation(PLATFORM, team, secrets, self._clock())
        log.info("Slack: installed in %s (%s)", installation.team_name, team)

    async def async_save_bot(self, bot: Bot) -> None:
        await self._rows.save_installation(PLATFORM, _team(bot.team_id), {(BOT, ""): self._seal(bot)}, self._clock())

    async def async_find_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> Bot | None:
        data = self._open(await self._rows.installation(PLATFORM, team_id or "", BOT)) if team_id else None
        return Bot(**data) if data else None

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        if not team_id:
            return None
        data = self._open(await self._rows.installation(PLATFORM, team_id, INSTALLATION, user_id or ""))
        return Installation(**data) if data else None

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        if team_id:
            await self._rows.delete_installation(PLATFORM, team_id, BOT)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        if team_id:
            await self._rows.delete_installation(PLATFORM, team_id, INSTALLATION, user_id)


def _team(team_id: str | None) -> str:
    if not team_id:
        raise BoltError("Paperboy installs into workspaces one by one: org-wide (Enterprise Grid) installs are "
                        "not supported")
    return team_id
