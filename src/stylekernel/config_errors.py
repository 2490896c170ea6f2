"""Config errors of the LightningCLI commands as one line: the key, where it was set, the reason.

jsonargparse reports a bad value as a nested, multi-line message ("Parser key "model": Does not
validate against any of the Union subtypes ... Given value: ..."). :func:`explain_argument_error`
walks that message down to the innermost key and reason and finds where the key was set: the
command line (``--model.init_args.lr=abc``) or the last ``--config`` file defining it, with its
line. :func:`check_yaml_files` names the file of a YAML syntax error (jsonargparse says
"<unicode string>").

    model.init_args.net.init_args.kernel_size (command line): expected int, got 'abc'
    model.init_args.lrr (configs/mine.yaml:3): unknown option of StyleTransferModule
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

import yaml
from jsonargparse import ArgumentError

from stylekernel.errors import ConfigError

__all__ = ["check_yaml_files", "config_files", "explain_argument_error", "locate_key"]

_PARSER_KEY = re.compile(r'^Parser key "([^"]+)"(?: element \d+)?:\s*(.*)$')
_NOT_PROVIDED = re.compile(r'^expected "([^"]+)" to be one of \{([^}]*)\}, but it was not provided')
_CLASS_PATH = re.compile(r"^(?:- )?Problem with given class_path '([^']+)':\s*(.*)$")
_NOT_ACCEPTED = re.compile(r"^Option '([^']+)' is not accepted")
_SUB_NOT_ACCEPTED = re.compile(r"^Subcommand '([^']+)' does not accept option '([^']+)'")
_CLASS_REPR = re.compile(r"<class '(?:[\w.]+\.)?(\w+)'>")
_STOP = ("Given value", "- Expected a <class 'NoneType'>")
_ARGUMENT = re.compile(r"^argument ([\w.]+): (.*)$")


def config_files(args: Sequence[str]) -> list[str]:
    """The ``--config`` files of a command line, in order."""
    files: list[str] = []
    for i, arg in enumerate(args):
        if arg == "--config" and i + 1 < len(args):
            files.append(args[i + 1])
        elif arg.startswith("--config="):
            files.append(arg.split("=", 1)[1])
    return files


def check_yaml_files(args: Sequence[str]) -> None:
    """ConfigError ``file:line:column: YAML syntax error: ...`` for the first unparsable ``--config``."""
    for name in config_files(args):
        path = Path(name).expanduser()
        if not path.is_file():
            continue  # jsonargparse reports it (key "config")
        try:
            yaml.safe_load(path.read_text(encoding="utf-8", errors="replace"))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark is not None else name
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ConfigError(f"{where}: YAML syntax error: {problem}") from None


def _find_node(node: Any, keys: list[str]) -> Any:
    """The YAML node at ``keys`` (``init_args`` levels may be omitted in the file), else None."""
    if not keys:
        return node
    if not isinstance(node, yaml.MappingNode):
        return None
    for k_node, v_node in node.value:
        if getattr(k_node, "value", None) == keys[0]:
            return k_node if len(keys) == 1 else _find_node(v_node, keys[1:])
    if keys[0] == "init_args":
        return _find_node(node, keys[1:])
    return None


def locate_key(key: str, args: Sequence[str]) -> str:
    """Where ``key`` (dotted) was set: ``command line``, ``file:line``, or ``defaults``."""
    for arg in args:
        if arg == f"--{key}" or arg.startswith(f"--{key}="):
            return "command line"
    # a nested command-line value (--model.init_args.net.init_args.groupz=3 reported under "model")
    for arg in args:
        if arg.startswith(f"--{key}."):
            return "command line"
    for name in reversed(config_files(args)):
        try:
            root = yaml.compose(Path(name).expanduser().read_text(encoding="utf-8", errors="replace"))
        except (OSError, yaml.YAMLError):
            continue
        parts = key.split(".")
        node = _find_node(root, parts)
        if node is not None:
            return f"{name}:{node.start_mark.line + 1}"
    return "defaults"


def _clean(reason: str) -> str:
    reason = _CLASS_REPR.sub(r"\1", reason.strip())
    match = re.match(r"^Expected a (\w+)\. Got value: (.*)$", reason)
    if match:
        return f"expected {match.group(1)}, got {match.group(2)!r}"
    match = re.match(r"^Expected a typing\.Literal\[(.*)\]\. Got value: (.*)$", reason)
    if match:
        return f"expected one of {match.group(1)}, got {match.group(2)!r}"
    match = re.match(r"^Not of type (\w+): (.*?)\s*does not conform to restriction (.*)$", reason)
    if match:
        got = f", got {match.group(2)}" if match.group(2) else ""
        return f"expected {match.group(1)} ({match.group(3)}){got}"
    return reason.rstrip(".")


def explain_argument_error(exc: ArgumentError, args: Sequence[str]) -> str:
    """One line ``<key> (<source>): <reason>`` for a jsonargparse parsing error."""
    text = str(exc).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if lines and lines[0].startswith("unrecognized arguments:"):
        return f"{lines[0].split(':', 1)[1].strip()} (command line): unrecognized argument"
    if lines and lines[0].startswith("the following arguments are required:"):
        missing = lines[0].split(":", 1)[1].strip()
        flag = missing.split(",")[0].strip().rpartition(".")[2]
        return f"{missing} (command line): required, not given (as --{flag} or in a --config file)"
    if lines and _NOT_PROVIDED.match(lines[0]):  # a subcommand not given
        m = _NOT_PROVIDED.match(lines[0])
        return f"{m.group(1)} (command line): required, one of {m.group(2).replace(',', ', ')}"  # type: ignore[union-attr]
    if lines and _ARGUMENT.match(lines[0]):  # argparse's own (a subcommand or positional)
        m = _ARGUMENT.match(lines[0])
        return f"{m.group(1)} (command line): {_clean(m.group(2))}"  # type: ignore[union-attr]
    m = _SUB_NOT_ACCEPTED.match(lines[0]) if lines else None
    if m:
        return f"{m.group(2)} ({locate_key(m.group(2), args)}): unknown option of {m.group(1)!r}"
    given = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("Given value:")), None)
    keys: list[str] = []
    cls_name = ""
    reason = ""
    for line in lines:
        if line.startswith(_STOP):
            break
        m = _PARSER_KEY.match(line)
        if m:
            keys.append(m.group(1))
            reason = m.group(2) or reason
            continue
        m = _CLASS_PATH.match(line)
        if m:
            keys.append("init_args")
            cls_name = m.group(1).rpartition(".")[2]
            reason = m.group(2) or reason
            continue
        m = _NOT_ACCEPTED.match(line)
        if m:
            keys.append(m.group(1))
            reason = f"unknown option{' of ' + cls_name if cls_name else ''}"
            break
        if line.startswith(("Does not validate against", "Errors:", "Subtypes:")):
            continue
        reason = line.lstrip("- ")
    if not keys:
        return _clean(lines[0] if lines else type(exc).__name__)
    if keys[-1] == "init_args":
        keys.pop()
    key = ".".join(keys)
    reason = _clean(reason) or "invalid value"
    if given is not None and re.match(r"^Expected a \w+$", reason):  # a Union (Optional) member's message
        reason = f"expected {reason.split()[-1]}, got {given!r}"
    elif given is not None and reason.startswith("expected ") and ", got " not in reason:
        reason = f"{reason}, got {given!r}"
    return f"{key} ({locate_key(key, args)}): {reason}"


def _leaf_keys(node: Any, prefix: str = "") -> list[tuple[str, int]]:
    """(dotted key, line) of every mapping key in a YAML node tree."""
    out: list[tuple[str, int]] = []
    if isinstance(node, yaml.MappingNode):
        for k_node, v_node in node.value:
            key = f"{prefix}{getattr(k_node, 'value', '')}"
            out.append((key, k_node.start_mark.line + 1))
            out += _leaf_keys(v_node, key + ".")
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out += _leaf_keys(item, f"{prefix}{i}.")
    return out


def explain_config_error(message: str, args: Sequence[str]) -> str:
    """A constructor's one-line ConfigError, prefixed with ``<key> (<source>):`` where the
    argument it names was set on the command line or in a ``--config`` file; else unchanged."""
    words = re.findall(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)*\b", message)
    for word in dict.fromkeys(words):
        for arg in args:
            flag = arg.split("=", 1)[0]
            if flag.startswith("--") and (flag == f"--{word}" or flag.endswith(f".{word}")):
                return f"{flag[2:]} (command line): {message}"
        for name in reversed(config_files(args)):
            try:
                root = yaml.compose(Path(name).expanduser().read_text(encoding="utf-8", errors="replace"))
            except (OSError, yaml.YAMLError):
                continue
            for key, line in reversed(_leaf_keys(root)):
                if key == word or key.endswith(f".{word}"):
                    return f"{key} ({name}:{line}): {message}"
    return message
