"""Boolean environment switches are parsed one way (``stylekernel.env.env_flag``), as
``huggingface_hub`` parses ``HF_HUB_OFFLINE``: the weights' offline rule, the HF data source's
offline hint and the W&B ``WANDB_DISABLED`` switch all agree on every spelling."""

from __future__ import annotations

import pytest

from stylekernel import weights
from stylekernel.env import env_flag
from stylekernel.loggers.wandb_mode import resolve_mode

ON = ["1", "true", "TRUE", "Yes", "on"]
OFF = ["", "0", "false", "False", "no", "off", "2", " 1 "]  # spaces: off, as huggingface_hub reads them


@pytest.mark.parametrize("value", ON + OFF)
def test_env_flag_spellings(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SK_TEST_FLAG", value)
    assert env_flag("SK_TEST_FLAG") is (value in ON)
    monkeypatch.delenv("SK_TEST_FLAG")
    assert env_flag("SK_TEST_FLAG") is False


def test_any_of_several_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SK_A", "0")
    monkeypatch.setenv("SK_B", "yes")
    assert env_flag("SK_A", "SK_B") and not env_flag("SK_A")


@pytest.mark.parametrize("value", ["1", "true", "on", "yes", "false", "0", "no", "", " 1"])
def test_weights_offline_and_huggingface_hub_agree(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    """``HF_HUB_OFFLINE`` means the same to the weights module as to huggingface_hub itself."""
    constants = pytest.importorskip("huggingface_hub.constants")
    hub_is_true = getattr(constants, "_is_true", None)
    if hub_is_true is None:
        pytest.skip("huggingface_hub has no _is_true to compare with")
    monkeypatch.delenv("STYLEKERNEL_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", value)
    assert weights.offline() is bool(hub_is_true(value))


@pytest.mark.parametrize("value, disabled", [("true", True), ("1", True), ("on", True), ("false", False), ("0", False)])
def test_wandb_disabled_uses_the_same_rule(monkeypatch: pytest.MonkeyPatch, value: str, disabled: bool) -> None:
    monkeypatch.setenv("WANDB_DISABLED", value)
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert (resolve_mode() == "disabled") is disabled
