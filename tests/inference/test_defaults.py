"""One home for the stylization defaults: ``stylekernel stylize``'s resolved options, ``--print_config``,
the Stylizer's and the engine's public signatures all agree, value by value, and the CLI's choices
are the engine's precisions and the colour modes. A default changed in one place only fails here."""

from __future__ import annotations

import inspect
import typing
from typing import Any, Callable

import pytest
import yaml

from stylekernel import stylize_cli
from stylekernel.cli import main
from stylekernel.color import COLOR_MODES
from stylekernel.engine import PRECISIONS, Precision, StylizationEngine
from stylekernel.inference import Stylizer

REQUIRED = ["--checkpoint", "m.ckpt", "--content", "c.png", "--style", "s.png", "--output", "o.png"]

#: every public signature that takes a stylization setting (callable, parameters it shares with the CLI)
SIGNATURES: list[tuple[Callable[..., Any], tuple[str, ...]]] = [
    (Stylizer.__init__, ("device", "precision", "style_size", "tile_size", "query_chunk_size")),
    (Stylizer.stylize, ("alpha", "style_weights", "mask", "preserve_color", "max_side", "keep_alpha")),
    (Stylizer.stylize_tensor, ("alpha", "style_weights", "mask")),
    (StylizationEngine.__init__, ("device", "precision", "tile_size", "query_chunk_size")),
    (StylizationEngine.stylize, ("alpha", "style_weights", "mask")),
    (StylizationEngine.stylize_batch, ("alpha",)),
    (StylizationEngine.stylize_encoded, ("alpha",)),
]
#: settings that only the Stylizer and the engine take (the CLI passes its own or none)
SHARED_BY_API = ("feature_cache_bytes", "memory_check")


def _defaults(func: Callable[..., Any]) -> dict[str, Any]:
    return {n: p.default for n, p in inspect.signature(func).parameters.items() if p.default is not inspect.Parameter.empty}


@pytest.fixture(scope="module")
def cli_defaults() -> dict[str, Any]:
    """The options as ``stylize`` resolves them when only the required ones are given."""
    return stylize_cli.parse_args(REQUIRED).as_dict()


@pytest.mark.parametrize("func, names", SIGNATURES, ids=[f.__qualname__ for f, _ in SIGNATURES])
def test_public_signatures_default_to_what_the_cli_resolves(func: Callable[..., Any], names: tuple[str, ...],
                                                            cli_defaults: dict[str, Any]) -> None:
    defaults = _defaults(func)
    assert set(names) <= set(defaults), f"{func.__qualname__} lost a default: {set(names) - set(defaults)}"
    assert {n: defaults[n] for n in names} == {n: cli_defaults[n] for n in names}


def test_print_config_shows_the_same_defaults(cli_defaults: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stylize", *REQUIRED, "--print_config"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    shared = {n for _, names in SIGNATURES for n in names}
    assert {n: printed[n] for n in shared} == {n: cli_defaults[n] for n in shared}
    # the values themselves, once: a change of a default is deliberate (update this line with it)
    assert {n: printed[n] for n in ("alpha", "device", "precision", "style_size", "tile_size", "max_side",
                                     "query_chunk_size", "preserve_color", "keep_alpha")} == {
        "alpha": 1.0, "device": "cpu", "precision": "fp32", "style_size": 512, "tile_size": 1024,
        "max_side": None, "query_chunk_size": None, "preserve_color": "none", "keep_alpha": True}


def test_stylizer_and_engine_share_their_other_defaults() -> None:
    stylizer, engine = _defaults(Stylizer.__init__), _defaults(StylizationEngine.__init__)
    assert {n: stylizer[n] for n in SHARED_BY_API} == {n: engine[n] for n in SHARED_BY_API}
    # every engine setting the Stylizer forwards has the engine's default
    assert {n: v for n, v in stylizer.items() if n in engine} == engine


def test_cli_choices_are_the_engines_and_the_colour_modes() -> None:
    hints = typing.get_type_hints(stylize_cli.StylizeOptions)
    assert typing.get_args(hints["precision"]) == typing.get_args(Precision) and set(typing.get_args(Precision)) <= set(PRECISIONS)
    assert typing.get_args(hints["preserve_color"]) == COLOR_MODES
