"""``earwitness fixtures build|serve`` and bad input."""

import pytest
from click.testing import CliRunner

from earwitness.app.cli import main
from fixtures.errors import FixtureError


def test_fixtures_group_lists_build_and_serve():
    result = CliRunner().invoke(main, ["fixtures", "--help"])
    assert result.exit_code == 0 and "build" in result.output and "serve" in result.output


def test_build_command_reuses_an_up_to_date_folder(platform_root, home):
    result = CliRunner().invoke(main, ["--home", str(home), "fixtures", "build", "--out", str(platform_root)])
    assert result.exit_code == 0, result.output
    assert "20 videos, 3 rooms" in result.output and "catalog/manifest.csv" in result.output


def test_serve_refuses_a_folder_that_is_not_built(tmp_path, home):
    from fixtures.platform import serve
    with pytest.raises(FixtureError, match="not a built fixture platform"):
        serve(port=0, root=tmp_path, build=False)


@pytest.mark.parametrize("bad", [{"removed_status": 500}, {"page_size": 0}, {"page_size": "many"}])
def test_bad_settings_are_refused(platform_root, home, bad):
    from fixtures.platform import serve
    with pytest.raises(FixtureError):
        serve(port=0, root=platform_root, build=False, **bad)


def test_port_in_use_is_a_clear_error(platform, platform_root):
    from fixtures.platform import serve
    with pytest.raises(FixtureError, match="cannot listen"):
        serve(port=platform.port, root=platform_root, build=False)
