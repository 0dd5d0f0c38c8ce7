"""The starter profile every installer writes: each setting it shows exists, with the default it shows."""

from __future__ import annotations

import re
import tomllib
from typing import Any

from sidecar.config import Settings
from tests.installer.conftest import ROOT

TEMPLATE = ROOT / "installer" / "profile-template.toml"


def uncommented() -> dict[str, Any]:
    setting = re.compile(r'^# (\[[\w.]+\]|[\w"]+\s*=.*)$')
    lines = [m.group(1) for line in TEMPLATE.read_text(encoding="utf-8").splitlines() if (m := setting.match(line))]
    return tomllib.loads("\n".join(lines))


def test_the_template_is_all_comments_so_it_changes_nothing() -> None:
    assert tomllib.loads(TEMPLATE.read_text(encoding="utf-8")) == {}


def test_every_setting_in_the_template_is_a_real_one_with_its_real_default() -> None:
    data = uncommented()
    data["paper"].pop("state_file")  # shown as "" for "none"; the setting itself is an optional path
    example = Settings(**data).mapping.overrides  # an example of the form, not a default
    assert example["US500"].symbol == "IBUS500.USD"
    data["mapping"].pop("overrides")
    assert Settings(**data) == Settings()


def test_the_template_shows_every_section() -> None:
    assert set(uncommented()) == set(Settings.model_fields)
