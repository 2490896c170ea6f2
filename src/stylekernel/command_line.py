"""The suite's own commands (``stylize``, ``evaluate``, ``weights``, ``data``, ``export``) on jsonargparse.

Each command builds its parser with :func:`command_parser` (``--config FILE``, repeatable, and
``--print_config``, as ``fit``) and fills it from a signature: a dataclass or function whose
annotations jsonargparse checks (``Literal`` choices, ``jsonargparse.typing`` ranges) and whose
defaults are the only ones (``add_class_arguments`` / ``add_function_arguments``). It then parses
with :func:`parse_command`, which reports a bad value as :mod:`stylekernel.config_errors` does for
``fit``: one :class:`~stylekernel.errors.ConfigError` line ``<key> (<source>): <reason>``, exit 2.

Spellings. jsonargparse's own forms work (``--style_weights=[0.7,0.3]``, ``--save_images=false``,
``--size=null``), and so do the spellings these commands have always documented:

* dashes for underscores: ``--style-weights`` is ``--style_weights``;
* list options take space-separated values and may be repeated: ``--style-weights 0.7 0.3``,
  ``--style a.jpg --style b.jpg`` (the command line replaces a config file's list);
* booleans without a value: ``--save-images``; ``--no-save-images`` / ``--no_save_images`` set false;
* ``none`` for null where an option may be null: ``--fid-resize none``.

Order. Every ``--config`` is applied first, in the order given, wherever it stands on the line,
so flags always win over config files, and later files over earlier ones.
"""

from __future__ import annotations

import json
import types
import typing
from collections import abc
from collections.abc import Callable, Sequence
from typing import Any, Union

from jsonargparse import ActionConfigFile, ArgumentError, ArgumentParser, Namespace

from stylekernel.config_errors import check_yaml_files, explain_argument_error
from stylekernel.errors import ConfigError

__all__ = ["ArgumentParser", "Namespace", "command_parser", "normalize_argv", "parse_command"]

_TRUE, _FALSE = ("true", "yes", "on"), ("false", "no", "off")
EPILOG = ("Spellings: --style-weights is --style_weights; list options take space-separated values and repeats "
          "(--style a.jpg --style b.jpg, --style-weights 0.7 0.3); booleans --save-images / --no-save-images; "
          "'none' or 'null' for a null value.")
#: option (underscore name) -> its value (or None) -> the tokens to parse instead
Special = dict[str, Callable[["str | None"], list[str]]]


def command_parser(prog: str, description: str, **kwargs: Any) -> ArgumentParser:
    """A jsonargparse parser with ``--config`` (repeatable) and ``--print_config``; errors raise, never exit."""
    kwargs.setdefault("epilog", EPILOG)
    parser = ArgumentParser(prog=prog, description=description, exit_on_error=False, default_env=False, **kwargs)
    parser.add_argument("--config", action=ActionConfigFile, help="a YAML file of options (repeatable; later files win, flags win over files)")
    return parser


# --- the documented spellings -> jsonargparse's ---------------------------------------------------
def _strip_optional(hint: Any) -> tuple[Any, bool]:
    """(the hint without None, whether None was allowed)."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (Union, types.UnionType) and type(None) in args:
        rest = tuple(a for a in args if a is not type(None))
        return (rest[0] if len(rest) == 1 else Union[rest]), True
    return hint, False


def _kind(action: Any) -> tuple[str, bool]:
    """("bool" | "list" | "value", nullable) of a jsonargparse option."""
    hint = getattr(action, "_typehint", None)
    if hint is None:
        return "value", False
    base, nullable = _strip_optional(hint)
    if base is bool:
        return "bool", nullable
    if base in (list, tuple) or typing.get_origin(base) in (list, tuple, abc.Sequence, abc.MutableSequence):
        return "list", nullable
    return "value", nullable


def _list_of_str(action: Any) -> bool:
    args = typing.get_args(_strip_optional(getattr(action, "_typehint", None))[0])
    return bool(args) and _strip_optional(args[0])[0] is str


def _options(parser: ArgumentParser) -> tuple[dict[str, Any], dict[str, ArgumentParser]]:
    """({option name without -- : action}, {subcommand: its parser}) of ``parser``."""
    options: dict[str, Any] = {}
    subcommands: dict[str, ArgumentParser] = {}
    for action in parser._actions:
        if type(action).__name__ == "ActionSubCommands":
            subcommands.update(action.choices)  # type: ignore[arg-type]
        for opt in action.option_strings:
            if opt.startswith("--") and not opt.endswith("+"):
                options[opt[2:]] = action
    return options, subcommands


def _is_value(token: str) -> bool:
    """A token that is an option's value, not the next option (negative numbers are values)."""
    if not token.startswith("-"):
        return True
    try:
        float(token)
    except ValueError:
        return False
    return True


def normalize_argv(parser: ArgumentParser, argv: Sequence[str], *, special: Special | None = None) -> list[str]:
    """Rewrite the documented spellings (module docstring) into jsonargparse's; ``--config`` first.

    ``special`` maps an option (underscore name) to a function of its value (the next token when
    that is a value, else None) returning the tokens to use instead; tokens starting with
    ``--config`` join the config files (``--preset paper`` -> ``--config .../paper.yaml``).
    """
    special = special or {}
    options, subcommands = _options(parser)
    configs: list[str] = []
    rest: list[str] = []
    lists: dict[str, list[str]] = {}
    list_at: dict[str, int] = {}
    tokens = list(argv)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if token in subcommands:
            rest += [token, *normalize_argv(subcommands[token], tokens[i:], special=special)]
            break
        if not token.startswith("--") or token == "--":
            rest.append(token)
            continue
        raw, eq, value = token[2:].partition("=")
        name = raw.replace("-", "_")
        given: str | None = value if eq else None
        if name in special:
            if not eq and i < len(tokens) and _is_value(tokens[i]):
                given, i = tokens[i], i + 1
            new = special[name](given)
            (configs if new[:1] == ["--config"] else rest).extend(new)
            continue
        if name.startswith("no_") and not eq and _kind(options.get(name[3:]))[0] == "bool" and name[3:] in options:
            rest.append(f"--{name[3:]}=false")
            continue
        action = options.get(name)
        if action is None:  # nested keys (--data.init_args.x), help, or unknown: jsonargparse decides
            rest.append(f"--{name}{eq}{value}" if "." not in raw else token)
            continue
        if action.nargs in (0, "?") and getattr(action, "_typehint", None) is None:  # --help, --print_config
            rest.append(token)
            continue
        kind, nullable = _kind(action)
        if not eq:
            if kind == "list":
                values = []
                while i < len(tokens) and _is_value(tokens[i]) and tokens[i] not in subcommands:
                    values.append(tokens[i])
                    i += 1
                if not (len(values) == 1 and values[0].startswith("[")):
                    if name not in lists:  # one list for every occurrence, at the first one's place
                        lists[name], list_at[name] = [], len(rest)
                        rest.append("")
                    lists[name] += values
                    continue
                given = values[0]
            elif kind == "bool":
                given = "true"
                if i < len(tokens) and tokens[i].lower() in (*_TRUE, *_FALSE):
                    given, i = tokens[i], i + 1
            elif i < len(tokens):
                given, i = tokens[i], i + 1
            else:
                rest.append(f"--{name}")
                continue
        if nullable and given is not None and given.lower() == "none":
            given = "null"
        if action.dest == "config":
            configs += ["--config", str(given)]
        else:
            rest.append(f"--{name}={given}")
    for name, values in lists.items():
        strings = _list_of_str(options[name])
        rest[list_at[name]] = f"--{name}=" + (json.dumps(values) if strings else "[" + ", ".join(values) + "]")
    return configs + rest


def parse_command(parser: ArgumentParser, argv: Sequence[str], *, special: Special | None = None) -> Namespace:
    """Parse ``argv`` (documented spellings accepted); ConfigError ``<key> (<source>): <reason>`` on bad input.

    ``--help`` and ``--print_config`` print and raise ``SystemExit(0)``, as in ``fit``.
    """
    args = normalize_argv(parser, argv, special=special)
    check_yaml_files(args)
    try:
        return parser.parse_args(args)
    except ArgumentError as exc:
        message = explain_argument_error(exc, args)
        key = message.partition(" (")[0]
        name = key.rpartition(".")[2]
        if name in _positionals(parser):  # a positional value is on the command line, named in capitals
            message = message.replace(f"{key} (defaults): ", f"{key} (command line): ").replace(f"(as --{name} ", f"(as {name.upper()} ")
        raise ConfigError(message) from None


def _positionals(parser: ArgumentParser) -> set[str]:
    """The dests of the positional arguments of ``parser`` and its subcommands."""
    names = {a.dest for a in parser._actions if not a.option_strings and type(a).__name__ != "ActionSubCommands"}
    for sub in _options(parser)[1].values():
        names |= _positionals(sub)
    return names
