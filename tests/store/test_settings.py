"""Typed settings: every section checked at load, errors that name the file, the key and the type."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import earwitness.app.sections  # noqa: F401  (registers every section)
from earwitness.app.cli import main
from earwitness.kernel import settings


def _user_file(home, text: str):
    home.mkdir(parents=True, exist_ok=True)
    (home / "earwitness.yaml").write_text(text, encoding="utf-8")
    return home / "earwitness.yaml"


def test_shipped_configuration_is_valid_and_typed(tmp_path):
    s = settings.load(tmp_path / "h", environ={})
    assert s.section("matcher")["threshold"] == 11.0
    assert isinstance(s.section("crawler")["media"]["max_duration_s"], float)
    assert s.origin("crawler.media.max_duration_s").endswith("config/crawler.yaml")


def test_a_typo_in_a_key_is_refused_naming_the_file_and_the_known_keys(tmp_path):
    path = _user_file(tmp_path / "h", "matcher:\n  threshhold: 12\n")
    with pytest.raises(settings.SettingsError) as err:
        settings.load(tmp_path / "h", environ={})
    text = str(err.value)
    assert str(path) in text and "unknown key 'matcher.threshhold'" in text and "threshold" in text


def test_a_misspelt_section_is_refused(tmp_path):
    _user_file(tmp_path / "h", "crawlr:\n  proxy: http://x\n")
    with pytest.raises(settings.SettingsError, match="unknown section or key 'crawlr'"):
        settings.load(tmp_path / "h", environ={})


def test_a_wrong_type_names_the_variable_the_key_and_what_was_given(tmp_path):
    env = {"EARWITNESS__CRAWLER__MEDIA__MAX_DURATION_S": "twenty"}
    with pytest.raises(settings.SettingsError) as err:
        settings.load(tmp_path / "h", environ=env)
    text = str(err.value)
    assert "EARWITNESS__CRAWLER__MEDIA__MAX_DURATION_S" in text
    assert "crawler.media.max_duration_s" in text and "'twenty'" in text and "number" in text


def test_a_user_value_overrides_and_says_where_it_came_from(tmp_path):
    path = _user_file(tmp_path / "h", "notices:\n  sla_days: 5\n")
    s = settings.load(tmp_path / "h", environ={})
    assert s.section("notices")["sla_days"] == 5 and s.origin("notices.sla_days") == str(path)
    assert s.origin("notices.recheck_interval_hours").endswith("config/notices.yaml")


def test_the_command_line_gives_one_clear_message_not_a_traceback(tmp_path):
    home = tmp_path / "h"
    _user_file(home, "matcher:\n  threshold: high\n")
    res = CliRunner().invoke(main, ["--home", str(home), "catalog", "list"])
    assert res.exit_code != 0 and "Traceback" not in res.output
    assert "matcher.threshold" in res.output and "'high'" in res.output


def test_malformed_yaml_names_the_file(tmp_path):
    path = _user_file(tmp_path / "h", "matcher: [unclosed\n")
    with pytest.raises(settings.SettingsError, match="not valid YAML") as err:
        settings.load(tmp_path / "h", environ={})
    assert str(path) in str(err.value)


def test_a_missing_configuration_folder_is_an_error_not_an_empty_configuration(tmp_path):
    with pytest.raises(settings.SettingsError, match="no configuration folder"):
        settings.load(tmp_path / "h", environ={}, config_dir=tmp_path / "nowhere")
