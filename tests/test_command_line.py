"""Every tool command on jsonargparse (stylekernel.command_line): --print_config round-trips through
--config, typed errors are one line naming the key and its source (exit 2), the documented
spellings (dashes, space-separated lists, repeated --style, bare booleans, ``none``) still parse,
and flags win over config files wherever they stand."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from stylekernel import stylize_cli
from stylekernel.cli import main
from stylekernel.command_line import normalize_argv, parse_command
from stylekernel.errors import ConfigError


def _parse_stylize(argv: list[str]) -> dict[str, Any]:
    return stylize_cli.parse_args(argv).as_dict()


def _parse_evaluate(argv: list[str]) -> dict[str, Any]:
    from stylekernel_eval.cli import parse_config

    return parse_config(argv).to_dict()


def _parser_of(module: str) -> Callable[[list[str]], dict[str, Any]]:
    def parse(argv: list[str]) -> dict[str, Any]:
        import importlib

        return parse_command(importlib.import_module(module).build_parser(), argv).as_dict()

    return parse


# (command, argv with options away from their defaults, parse(argv) -> dict for that command)
COMMANDS = [
    ("stylize", ["--checkpoint", "m.ckpt", "--content", "c.png", "--style", "a.png", "--style", "b c.png",
                 "--style-weights", "0.7", "0.3", "--output", "o.png", "--preserve-color", "--no-keep-alpha",
                 "--style-size", "40", "--precision", "bf16", "--tile-size", "64"], _parse_stylize),
    ("evaluate", ["--preset", "smoke", "--checkpoint", "m.ckpt", "--content-dir", "c", "--style-dir", "s",
                  "--timing-sizes", "32", "64", "--no-ssim", "--fid-resize", "none", "--precision", "bf16-mixed"], _parse_evaluate),
    ("weights", ["download", "vgg19", "alexnet", "--force"], _parser_of("stylekernel.weights_cli")),
    ("data", ["check", "imgs", "--no-recursive", "--extensions", ".jpg", ".png", "--workers", "2", "--image-column", "img"],
     _parser_of("stylekernel.data.cli")),
    ("data", ["demo", "--output", "demo", "--size", "64"], _parser_of("stylekernel.data.cli")),
    ("export", ["m.ckpt", "--output", "release", "--eval-summary", "s.json", "--overwrite"], _parser_of("stylekernel.export_cli")),
]


def _without_config(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_config(v) for k, v in value.items() if k != "config"}
    return value


@pytest.mark.parametrize("command, argv, parse", COMMANDS, ids=[f"{c[0]}-{c[1][0]}" for c in COMMANDS])
def test_print_config_round_trips_through_config(command: str, argv: list[str], parse: Any, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, *argv, "--print_config"]) == 0
    printed = capsys.readouterr().out
    assert yaml.safe_load(printed)  # YAML of every option
    (tmp_path / "printed.yaml").write_text(printed)
    sub = [argv[0]] if command in ("weights", "data") else []
    again = parse([*sub, "--config", str(tmp_path / "printed.yaml")])
    assert _without_config(again) == _without_config(parse(argv))


def test_the_documented_spellings_parse_to_the_typed_options() -> None:
    args = _parse_stylize(COMMANDS[0][1])
    assert args["style"] == ["a.png", "b c.png"] and args["style_weights"] == [0.7, 0.3]
    assert (args["preserve_color"], args["keep_alpha"], args["style_size"], args["precision"]) == ("luminance", False, 40, "bf16")
    base = ["--checkpoint", "m", "--content", "c", "--style", "s", "--output", "o"]
    zero = _parse_stylize([*base, "--max-side", "0", "--tile-size", "0", "--style-size", "0", "--preserve-color", "histogram"])
    assert (zero["max_side"], zero["tile_size"], zero["style_size"], zero["preserve_color"]) == (None, None, None, "histogram")
    assert _parse_stylize(base)["style_size"] == stylize_cli.StylizeOptions.__dataclass_fields__["style_size"].default
    # jsonargparse's own spellings work too
    native = _parse_stylize(["--checkpoint=m", "--content=c", "--style=[a, b]", "--output=o", "--style_weights=[1, 3]", "--keep_alpha=false"])
    assert native["style"] == ["a", "b"] and native["style_weights"] == [1.0, 3.0] and native["keep_alpha"] is False
    ev = _parse_evaluate(COMMANDS[1][1])
    assert ev["timing_sizes"] == [32, 64] and ev["ssim"] is False and ev["fid_resize"] is None and ev["size"] == 96  # smoke
    on = _parse_evaluate(["--checkpoint", "m", "--content-dir", "c", "--style-dir", "s", "--save-images", "--no-progress"])
    assert on["save_images"] is True and on["progress"] is False


def test_flags_win_over_config_files_wherever_they_stand_and_later_files_win(tmp_path: Path) -> None:
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text("batch_size: 3\nalpha: 0.5\nseed: 7\n")
    second.write_text("batch_size: 5\n")
    base = ["--checkpoint", "m", "--content-dir", "c", "--style-dir", "s"]
    cfg = _parse_evaluate(["--seed", "1", *base, "--config", str(first), "--config", str(second)])
    assert (cfg["batch_size"], cfg["alpha"], cfg["seed"]) == (5, 0.5, 1)
    cfg = _parse_evaluate([*base, "--config", str(second), "--preset", "paper", "--batch-size", "2"])
    assert cfg["batch_size"] == 2 and cfg["size"] == 512
    styles = tmp_path / "s.yaml"
    styles.write_text("style: [x.png, y.png]\nalpha: 0.25\n")
    args = _parse_stylize(["--checkpoint", "m", "--content", "c", "--output", "o", "--style", "z.png", "--config", str(styles)])
    assert args["style"] == ["z.png"] and args["alpha"] == 0.25  # the command line's list replaces the file's


@pytest.mark.parametrize(
    "argv, words",
    [
        (["stylize", "--checkpoint", "m", "--content", "c", "--style", "s", "--output", "o", "--alpha", "2"], ["alpha (command line)", "2"]),
        (["stylize", "--checkpoint", "m", "--content", "c", "--style", "s", "--output", "o", "--preserve-color", "lum"],
         ["preserve_color (command line)", "'luminance'", "'lum'"]),
        (["stylize", "--checkpoint", "m", "--content", "c", "--style", "s", "--output", "o", "--style-weights", "1", "x"],
         ["style_weights (command line)", "expected float"]),
        (["evaluate", "--checkpoint", "m", "--content-dir", "c", "--style-dir", "s", "--batch-size", "x"], ["batch_size (command line)", "expected int"]),
        (["evaluate", "--checkpoint", "m", "--content-dir", "c", "--style-dir", "s", "--lpips-net", "resnet"], ["lpips_net (command line)", "'alex'"]),
        (["weights", "download", "nope"], ["names (command line)", "'nope'", "vgg19"]),
        (["data", "check", "x", "--workers", "0"], ["workers (command line)", "PositiveInt"]),
        (["data", "demo", "--output", "d", "--size", "big"], ["size (command line)", "big"]),
        (["export", "m.ckpt", "--output", "o", "--overwrite=maybe"], ["overwrite (command line)"]),
        (["export", "--output", "o"], ["checkpoint (command line)", "required"]),
    ],
)
def test_typed_errors_are_one_line_naming_the_key(argv: list[str], words: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err and "Given value" not in err, err
    assert ": error: " in err, err
    for word in words:
        assert word in err, (word, err)


@pytest.mark.parametrize("command, yaml_text, key", [
    (["evaluate", "--checkpoint", "m", "--content-dir", "c", "--style-dir", "s"], "seed: 1\nbatch_size: many\n", "batch_size"),
    (["stylize", "--checkpoint", "m", "--content", "c", "--style", "s", "--output", "o"], "alpha: 0.5\nformat: gif\n", "format"),
    (["data", "demo", "--output", "d"], "size: 12\nseeds: 3\n", "seeds"),
])
def test_config_file_errors_name_the_file_and_line(command: list[str], yaml_text: str, key: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml_text)
    sub = command[:2] if command[0] == "data" else command[:1]
    assert main([*sub, "--config", str(bad), *command[len(sub):]]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{key} ({bad}:2)" in err, err


def test_a_yaml_syntax_error_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("alpha: 0.5\nstyle: [a,\n")
    with pytest.raises(ConfigError, match=rf"{bad}:3:1: YAML syntax error"):
        stylize_cli.parse_args(["--config", str(bad)])


def test_normalize_argv_puts_config_files_first_and_keeps_unknown_options() -> None:
    parser = stylize_cli.build_parser()
    out = normalize_argv(parser, ["--alpha", "0.5", "--config", "a.yaml", "--style", "x", "--config=b.yaml", "--bogus", "3"])
    assert out[:4] == ["--config", "a.yaml", "--config", "b.yaml"]
    assert "--alpha=0.5" in out and '--style=["x"]' in out and out[-2:] == ["--bogus", "3"]
