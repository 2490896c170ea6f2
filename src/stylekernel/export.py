"""Our own releases: a checkpoint as a Hub-style folder, and loading such a folder (no pickle).

``stylekernel export CKPT --output DIR`` writes::

    DIR/model.safetensors   the network's state dict (encoder included), safetensors format
    DIR/config.json         {"format": "stylekernel", "format_version": 1,
                             "stylekernel": the checkpoint's record (suite version, "net": class_path
                                            + init_args, encoder_source, release if imported),
                             "weights": {"file", "sha256", "tensors"}, "source_checkpoint": {...}}
    DIR/README.md           model card: network, weights origin, training config, evaluation summary
    DIR/eval_summary.json   the ``--eval-summary`` file, when one was given

Loading (:func:`read_pretrained`, :func:`load_pretrained`, ``Stylizer.from_pretrained`` and every
command's ``--checkpoint``) takes that folder or a Hugging Face Hub id ``owner/name`` (fetched by
``huggingface_hub.snapshot_download``; only from the local HF cache when ``HF_HUB_OFFLINE`` or
``STYLEKERNEL_OFFLINE`` is set). Integrity: ``config.json`` holds the SHA-256 of
``model.safetensors``, and the safetensors metadata holds the SHA-256 of the network record, so an
edited or truncated file of either kind is one :class:`CheckpointError` line, never a half-built
network. The folder is written into a temporary folder next to ``DIR`` and renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import torch

from stylekernel.atomic import atomic_write
from stylekernel.errors import CheckpointError, ConfigError

if TYPE_CHECKING:
    from stylekernel.nn.base import StyleTransferNet

FORMAT = "stylekernel"
FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
CARD_FILE = "README.md"
EVAL_FILE = "eval_summary.json"
_NET_HASH_KEY = "stylekernel_net_sha256"
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")
_CHECKPOINT_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin", ".safetensors", ".json")


# --- references: folder or hub id --------------------------------------------------------------
def is_pretrained_ref(ref: str | os.PathLike[str]) -> bool:
    """True for an existing folder, or a string that can only be a Hub id (``owner/name``).

    A path that does not exist and looks like ``dir/file.ckpt`` stays a checkpoint path (so its
    error says "does not exist" rather than "not on the Hub").
    """
    p = Path(ref).expanduser()
    if p.is_dir():
        return True
    text = os.fspath(ref)
    return not p.exists() and bool(_HUB_ID.match(text)) and not text.lower().endswith(_CHECKPOINT_SUFFIXES)


def _hf_cache_dir() -> Optional[str]:
    """The HF cache as the environment says now (huggingface_hub reads it once, at import)."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return os.path.join(os.environ["HF_HOME"], "hub")
    return None


def resolve(ref: str | os.PathLike[str], *, revision: Optional[str] = None) -> Path:
    """The local folder of ``ref``: the folder itself, or the Hub snapshot (downloaded unless offline)."""
    p = Path(ref).expanduser()
    if p.is_dir():
        return p
    if not is_pretrained_ref(ref):
        raise CheckpointError(f"{ref} is neither an exported model folder nor a Hugging Face Hub id (owner/name)")
    from huggingface_hub import snapshot_download

    from stylekernel.weights import offline

    cache = _hf_cache_dir()
    try:
        local = snapshot_download(os.fspath(ref), revision=revision, cache_dir=cache, local_files_only=offline(),
                                  allow_patterns=[WEIGHTS_FILE, CONFIG_FILE, CARD_FILE, EVAL_FILE],
                                  library_name="stylekernel")
    except Exception as exc:  # offline miss, unknown repo, no network: all one line
        where = cache or "the default Hugging Face cache"
        mode = "offline (HF_HUB_OFFLINE/STYLEKERNEL_OFFLINE): looked only in " + where if offline() else f"cache {where}"
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise CheckpointError(f"{ref}: no such file or folder, and no Hugging Face Hub model of that id could be fetched "
                              f"({mode}; {type(exc).__name__}: {first})") from None
    return Path(local)  # type: ignore[arg-type]


# --- reading --------------------------------------------------------------------------------------
def _net_sha256(net_record: dict[str, Any]) -> str:
    canonical = json.dumps(net_record, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def read_config(folder: Path) -> dict[str, Any]:
    """``config.json`` of an exported folder, checked for the fields loading needs."""
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"{folder} is a folder but not an exported stylekernel model (no {CONFIG_FILE})")
    try:
        config = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} is not valid JSON ({exc})") from None
    record = config.get("stylekernel") if isinstance(config, dict) else None
    if config.get("format") != FORMAT or not isinstance(record, dict) or not isinstance(record.get("net"), dict):
        raise CheckpointError(f"{path} is not a stylekernel model config (no 'format': 'stylekernel' with a 'stylekernel.net' record)")
    if not isinstance(record["net"].get("class_path"), str):
        raise CheckpointError(f"{path}: stylekernel.net has no class_path")
    if int(config.get("format_version", 0)) > FORMAT_VERSION:
        raise CheckpointError(f"{path}: format_version {config['format_version']} is newer than this suite reads ({FORMAT_VERSION})")
    if not isinstance(config.get("weights"), dict) or not isinstance(config["weights"].get("sha256"), str):
        raise CheckpointError(f"{path}: no weights.sha256 entry")
    return config  # type: ignore[no-any-return]


def read_pretrained(ref: str | os.PathLike[str], *, revision: Optional[str] = None) -> dict[str, Any]:
    """An exported folder or Hub id -> a checkpoint-shaped dict any checkpoint reader accepts.

    Returns ``{"state_dict": {"net." + key: tensor}, "stylekernel": record}`` with the record of
    the checkpoint that was exported (plus ``"pretrained"``: the folder it was read from).
    """
    from safetensors import safe_open

    from stylekernel.weights import sha256_file

    folder = resolve(ref, revision=revision)
    config = read_config(folder)
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise CheckpointError(f"{folder}: no {WEIGHTS_FILE}")
    digest = sha256_file(weights)
    if digest != config["weights"]["sha256"]:
        raise CheckpointError(f"{weights}: SHA-256 {digest[:12]}... differs from {CONFIG_FILE} "
                              f"({config['weights']['sha256'][:12]}...): the file is truncated or was changed")
    record = dict(config["stylekernel"])
    try:
        with safe_open(str(weights), framework="pt", device="cpu") as f:
            metadata = f.metadata() or {}
            state = {"net." + k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # noqa: BLE001 - any parse failure means "not a weights file"
        raise CheckpointError(f"{weights} is not a readable safetensors file ({type(exc).__name__}: {str(exc)[:200]})") from None
    if metadata.get(_NET_HASH_KEY) != _net_sha256(record["net"]):
        raise CheckpointError(f"{folder / CONFIG_FILE}: the network record (stylekernel.net) differs from the one "
                              f"{WEIGHTS_FILE} was exported with: the config was changed")
    record["pretrained"] = str(folder)
    return {"state_dict": state, "stylekernel": record}


def load_pretrained(ref: str | os.PathLike[str], *, revision: Optional[str] = None,
                    map_location: str | torch.device = "cpu") -> "StyleTransferNet":
    """The network of an exported folder or Hub id, in eval mode (rebuilt like a checkpoint's)."""
    from stylekernel.checkpoint import load_net

    return load_net(resolve(ref, revision=revision), map_location=map_location)


# --- writing ------------------------------------------------------------------------------------
def _run_folder(ckpt: Path) -> Path:
    """The run folder of a ``.../version_N/checkpoints/x.ckpt`` checkpoint (else its own folder)."""
    return ckpt.parent.parent if ckpt.parent.name == "checkpoints" else ckpt.parent


def _training_config(ckpt_path: Path, ckpt: dict[str, Any]) -> tuple[str, str] | None:
    """(where it came from, YAML text) of the training config, or None."""
    run = _run_folder(ckpt_path)
    for name in ("config.yaml", "hparams.yaml"):
        if (run / name).is_file():
            return f"`{name}` of the run folder", (run / name).read_text()
    hparams = ckpt.get("hyper_parameters")
    if isinstance(hparams, dict) and hparams:
        import yaml

        try:
            return "the checkpoint's `hyper_parameters`", yaml.safe_dump(json.loads(json.dumps(hparams, default=str)), sort_keys=False)
        except (TypeError, ValueError):
            return None
    return None


def _read_eval_summary(path: Path) -> dict[str, Any]:
    try:
        summary = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"--eval-summary {path}: not a readable JSON file ({exc})") from None
    metrics = summary.get("metrics") if isinstance(summary, dict) else None
    if not isinstance(metrics, dict) or not all(isinstance(m, dict) for m in metrics.values()):
        raise ConfigError(f"--eval-summary {path}: not a `stylekernel evaluate` summary.json (no 'metrics')")
    return summary  # type: ignore[no-any-return]


def model_card(config: dict[str, Any], *, training: tuple[str, str] | None, summary: dict[str, Any] | None) -> str:
    """The README.md of an exported folder (Hub model-card front matter, then Markdown)."""
    record = config["stylekernel"]
    net = record["net"]
    name = net["class_path"].rpartition(".")[2]
    release = record.get("release")
    lines = ["---", "library_name: stylekernel", "tags:", "- style-transfer", "- image-to-image",
             *([f"- {release['method']}"] if release else []), "---", "", f"# {name} (stylekernel {record.get('version')})", "",
             "```python", "from stylekernel import Stylizer",
             'image = Stylizer.from_pretrained("THIS_FOLDER_OR_HUB_ID").stylize("photo.jpg", "painting.jpg")', "```", "",
             "Command line: `stylekernel stylize --checkpoint THIS_FOLDER_OR_HUB_ID --content C --style S --output out.png`.", "",
             "## Network", "", f"`{net['class_path']}`, encoder weights: `{record.get('encoder_source', 'unknown')}`.", "",
             "```json", json.dumps(net.get("init_args", {}), indent=2), "```", "", "## Weights", ""]
    if release:
        lines.append(f"Released weights of **{release.get('method')}** from {release.get('source')}, imported with "
                     "`stylekernel weights import` (trained by the peer, not here):")
        lines += [f"- {part}: `{f.get('name')}` (sha256 `{f.get('sha256')}`)" for part, f in release.get("files", {}).items()]
    else:
        src = config.get("source_checkpoint", {})
        lines.append(f"Trained with this suite (`stylekernel fit`): checkpoint `{src.get('name')}` "
                     f"(sha256 `{src.get('sha256')}`), step {src.get('global_step')}, epoch {src.get('epoch')}.")
    if record.get("encoder_source") == "random":
        lines += ["", "**Warning: trained with a RANDOM VGG encoder: a smoke test, not a style-transfer model.**"]
    lines += ["", f"`{WEIGHTS_FILE}` sha256 `{config['weights']['sha256']}`.", "", "## Training config", ""]
    if training is not None:
        lines += [f"From {training[0]}:", "", "```yaml", training[1].rstrip("\n"), "```"]
    else:
        lines.append("None: no `config.yaml` / `hparams.yaml` next to the checkpoint and no hyper-parameters in it."
                     + (" The weights were trained by the peer (see its repository for the recipe)." if release else ""))
    lines += ["", "## Evaluation", ""]
    if summary is not None:
        from stylekernel_eval.report import render_markdown

        body = render_markdown(summary).splitlines()
        lines += [f"From `{EVAL_FILE}` (a `stylekernel evaluate` summary, copied into this folder):", ""]
        lines += ["#" + line if line.startswith("#") else line for line in body]
    else:
        lines.append("None: no evaluation summary was given at export (`stylekernel export ... --eval-summary summary.json`).")
    return "\n".join(lines) + "\n"


def export(checkpoint: str | os.PathLike[str], output: str | os.PathLike[str], *,
           eval_summary: str | os.PathLike[str] | None = None, overwrite: bool = False) -> Path:
    """Write the Hub-style folder of ``checkpoint`` to ``output``; returns ``output``.

    ``output`` must not exist, be empty, or ``overwrite`` must be set. Nothing is left behind on
    any error (the folder is built next to ``output`` and renamed into place).
    """
    from safetensors.torch import save_file

    from stylekernel.checkpoint import load_net, read_checkpoint
    from stylekernel.weights import sha256_file

    ckpt_path, out = Path(checkpoint).expanduser(), Path(output).expanduser()
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--output {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ConfigError(f"--output {out} exists and is not empty (pass --overwrite to replace it)")
    summary = _read_eval_summary(Path(eval_summary)) if eval_summary is not None else None
    ckpt = read_checkpoint(ckpt_path)
    net = load_net(ckpt_path)  # the same checks as every command: record present, state dict matches
    record = {k: v for k, v in ckpt["stylekernel"].items() if k != "pretrained"}  # the whole record, as JSON
    try:
        record = json.loads(json.dumps(record, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{ckpt_path}: its network record cannot be written as JSON ({exc})") from None
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in net.state_dict().items()}
    try:  # the folder is built next to ``out`` and renamed into place (an old ``out`` replaced only then)
        out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(out) as tmp:
            tmp.mkdir()
            save_file(tensors, str(tmp / WEIGHTS_FILE), metadata={"format": "pt", _NET_HASH_KEY: _net_sha256(record["net"])})
            config = {"format": FORMAT, "format_version": FORMAT_VERSION, "stylekernel": record,
                      "weights": {"file": WEIGHTS_FILE, "sha256": sha256_file(tmp / WEIGHTS_FILE), "tensors": len(tensors)},
                      "source_checkpoint": {"name": ckpt_path.name, "sha256": sha256_file(ckpt_path),
                                            "global_step": ckpt.get("global_step"), "epoch": ckpt.get("epoch")}}
            (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
            if summary is not None:
                (tmp / EVAL_FILE).write_text(json.dumps(summary, indent=2) + "\n")
            (tmp / CARD_FILE).write_text(model_card(config, training=_training_config(ckpt_path, ckpt), summary=summary))
    except OSError as exc:  # disk full, permissions: one line, and nothing left behind
        raise ConfigError(f"cannot write --output {out}: {exc}") from None
    return out
