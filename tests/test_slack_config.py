"""Slack settings: which mode starts, and one clear line for each bad variable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from adapters import REGISTRY
from adapters.slack import SlackAdapter, create
from adapters.slack.config import SlackConfig
from adapters import main
from bot.commandset import BY_NAME, COMMANDS
from bot.config import ConfigError

SOCKET = {"SLACK_BOT_TOKEN": "xoxb-1-secret", "SLACK_APP_TOKEN": "xapp-1-secret"}
HTTP = {"SLACK_BOT_TOKEN": "xoxb-1-secret", "SLACK_SIGNING_SECRET": "signing-secret"}


def test_two_tokens_mean_socket_mode_with_defaults() -> None:
    adapter = create(SOCKET)
    assert isinstance(adapter, SlackAdapter) and adapter.platform == "slack"
    config = adapter.config
    assert config.socket_mode
    assert (config.command, config.admins_only, config.api_url) == ("papers", False, "https://slack.com/api/")


def test_bot_token_and_signing_secret_mean_http_mode_on_port() -> None:
    config = SlackConfig.from_env({**HTTP, "PORT": "8080"})
    assert not config.socket_mode and config.port == 8080
    assert SlackConfig.from_env(HTTP).port == 3000


def test_registry_starts_slack_when_its_token_is_set() -> None:
    [spec] = [s for s in REGISTRY if s.name == "slack"]
    assert [s for s in REGISTRY if s.enabled(SOCKET)] == [spec]
    assert isinstance(spec.load(SOCKET), SlackAdapter)


def test_optional_settings() -> None:
    config = SlackConfig.from_env(
        {**SOCKET, "SLACK_COMMAND": "/arxiv", "SLACK_ADMINS_ONLY": "true", "SLACK_API_URL": "http://proxy.corp:8080/api"}
    )
    assert config.command == "arxiv" and config.admins_only
    assert config.api_url == "http://proxy.corp:8080/api/"


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET is required in HTTP mode"),
        ({"SLACK_BOT_TOKEN": "xoxp-user-token", "SLACK_APP_TOKEN": "xapp-1"}, "SLACK_BOT_TOKEN must be"),
        ({**SOCKET, "SLACK_APP_TOKEN": "xoxb-1"}, "SLACK_APP_TOKEN must be an app-level token"),
        ({**HTTP, "PORT": "http"}, "PORT must be a whole number from 1 to 65535, got 'http'"),
        ({**HTTP, "PORT": "70000"}, "PORT must be a whole number"),
        ({**SOCKET, "SLACK_COMMAND": "/Papers Now"}, "SLACK_COMMAND must be a command name"),
        ({**SOCKET, "SLACK_ADMINS_ONLY": "maybe"}, "SLACK_ADMINS_ONLY must be true or false"),
        ({**SOCKET, "SLACK_API_URL": "slack.com/api"}, "SLACK_API_URL must be an http:// or https:// URL"),
    ],
)
def test_bad_settings_refuse_with_one_line_naming_the_variable(env: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError) as refused:
        create(env)
    message = str(refused.value)
    assert message.startswith(names) and "\n" not in message


def test_secrets_never_show_in_repr() -> None:
    text = repr(SlackConfig.from_env({**SOCKET, "SLACK_SIGNING_SECRET": "signing-secret"}))
    assert "secret" not in text and "xoxb" not in text and "xapp" not in text


def test_paperboy_run_refuses_http_mode_without_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1-secret")
    for name in ("SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"):
        monkeypatch.delenv(name, raising=False)
    assert main(["run"]) == 1
    assert capsys.readouterr().err == (
        "paperboy: SLACK_SIGNING_SECRET is required in HTTP mode (SLACK_APP_TOKEN unset): "
        "copy it from the app's Basic Information page\n"
    )


def test_the_manifest_offers_the_command_tables_subcommands() -> None:
    manifest = (Path(__file__).parent.parent / "slack-manifest.yml").read_text()
    [command] = re.findall(r"- command: (/\S+)", manifest)
    [hint] = re.findall(r"usage_hint: \"(.*)\"", manifest)
    assert command == "/papers"
    assert [part.split()[0] for part in hint.split(" | ")] == [spec.name for spec in COMMANDS]
    for part in hint.split(" | "):
        name, *words = part.split()
        assert words == BY_NAME[name].usage.split()[1 : 1 + len(words)], part  # the table's own argument names


OAUTH = {
    "SLACK_CLIENT_ID": "1111.2222", "SLACK_CLIENT_SECRET": "client-secret", "SLACK_STATE_SECRET": "s" * 32,
    "SLACK_SIGNING_SECRET": "signing-secret", "PAPERBOY_SECRET_KEY": "A" * 43 + "=",
}


def test_a_client_id_means_installs_to_many_workspaces_in_http_mode() -> None:
    [spec] = [s for s in REGISTRY if s.name == "slack"]
    assert spec.enabled({"SLACK_CLIENT_ID": "1111.2222"}) and not spec.enabled({"SLACK_CLIENT_SECRET": "x"})
    config = SlackConfig.from_env(OAUTH)
    assert config.bot_token is None and not config.socket_mode
    assert config.oauth is not None and config.oauth.client_id == "1111.2222"
    assert not any(secret in repr(config) for secret in ("client-secret", "s" * 32, "A" * 43, "signing-secret"))


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({**OAUTH, "SLACK_BOT_TOKEN": "xoxb-1"}, "set SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID"),
        ({**OAUTH, "SLACK_APP_TOKEN": "xapp-1"}, "SLACK_CLIENT_ID runs in HTTP mode"),
        ({**OAUTH, "SLACK_CLIENT_SECRET": ""}, "SLACK_CLIENT_SECRET is required with SLACK_CLIENT_ID"),
        ({**OAUTH, "SLACK_STATE_SECRET": "short"}, "SLACK_STATE_SECRET must be a random string of at least 32"),
        ({**OAUTH, "SLACK_SIGNING_SECRET": ""}, "SLACK_SIGNING_SECRET is required in HTTP mode"),
    ],
)
def test_bad_oauth_settings_refuse_with_one_line(env: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError) as refused:
        create(env)
    assert str(refused.value).startswith(names) and "\n" not in str(refused.value)


@pytest.mark.parametrize(
    ("key", "line"),
    [
        ("", "paperboy: PAPERBOY_SECRET_KEY is required with SLACK_CLIENT_ID, to encrypt workspace tokens: make one "
             "with python -c \"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())\"\n"),
        ("not-a-fernet-key", "paperboy: PAPERBOY_SECRET_KEY must be a Fernet key (32 url-safe base64-encoded bytes): "
                             "make one with python -c \"from cryptography.fernet import Fernet; "
                             "print(Fernet.generate_key().decode())\"\n"),
    ],
)
def test_paperboy_run_refuses_oauth_without_a_good_secret_key(
    key: str, line: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {**OAUTH, "PAPERBOY_SECRET_KEY": key}.items():
        monkeypatch.setenv(name, value)
    assert main(["run"]) == 1
    assert capsys.readouterr().err == line
