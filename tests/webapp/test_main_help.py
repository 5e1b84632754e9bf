"""``python -m webapp --help`` shows the web app's own settings (not gunicorn's help), and
every setting it lists is one the code reads, with the code's default."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest

from webapp import __main__ as webapp_main
from webapp.config import Config

ROOT = Path(__file__).resolve().parents[2]
GUNICORN_CONF = (ROOT / "webapp" / "gunicorn_conf.py").read_text(encoding="utf-8")
LISTED = {name: default for name, default, _ in webapp_main.SETTINGS}


class RecordingEnv(dict[str, str]):
    """An environment that remembers every variable looked up."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read: list[str] = []

    def get(self, key: str, default: Any = None) -> Any:
        self.read.append(key)
        return super().get(key, default)


REMOVED = {"SSE_TOKEN"}  # read only to refuse it with a message naming its replacement


def _read_by_config() -> set[str]:
    env = RecordingEnv()
    Config.from_env(env)
    return set(env.read) - REMOVED


def _read_by_gunicorn_conf() -> dict[str, str]:
    return dict(
        re.findall(r"environ\.get\([\"'](\w+)[\"'],\s*[\"']([^\"']*)[\"']\)", GUNICORN_CONF)
    )


def test_every_variable_the_code_reads_is_listed_and_nothing_else() -> None:
    read = _read_by_config() | set(_read_by_gunicorn_conf())
    assert len(read) >= 15
    assert set(LISTED) == read | {"PUBSUB_EMULATOR_HOST"}  # that one the Pub/Sub client reads


@pytest.mark.parametrize("name", sorted(_read_by_config() - {"SSE_CLIENT_QUEUE"}))
def test_listed_default_is_config_default(name: str) -> None:
    assert Config.from_env({name: LISTED[name]}) == Config.from_env({})


def test_client_queue_defaults_to_the_buffer_size() -> None:
    assert LISTED["SSE_CLIENT_QUEUE"] == "SSE_BUFFER_SIZE"
    config = Config.from_env({"SSE_BUFFER_SIZE": "500"})
    assert config.client_queue == config.buffer_size == 500


@pytest.mark.parametrize("name", sorted(_read_by_gunicorn_conf()))
def test_listed_default_is_gunicorn_confs(name: str) -> None:
    assert _read_by_gunicorn_conf()[name] == LISTED[name]


def test_help_lists_the_settings_and_starts_nothing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "gunicorn.app.wsgiapp", None)  # importing it would fail
    webapp_main.main(["--help"])
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m webapp")
    assert "usage: gunicorn" not in out
    for name, default, _ in webapp_main.SETTINGS:
        assert re.search(rf"^  {name} +{re.escape(default or '(unset)')} ", out, re.M), name


def test_other_arguments_go_to_gunicorn(monkeypatch: pytest.MonkeyPatch) -> None:
    import gunicorn.app.wsgiapp

    seen: list[list[str]] = []
    monkeypatch.setattr(gunicorn.app.wsgiapp, "run", lambda: seen.append(list(sys.argv)))
    monkeypatch.setattr(sys, "argv", ["python"])
    webapp_main.main(["--workers", "2"])
    webapp_main.main(["--gunicorn-help"])
    conf = str(ROOT / "webapp" / "gunicorn_conf.py")
    assert seen == [
        ["gunicorn", "-c", conf, "--workers", "2", "webapp.app:create_app()"],
        ["gunicorn", "-c", conf, "--help", "webapp.app:create_app()"],
    ]
