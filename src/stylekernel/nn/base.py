"""The interface every style-transfer network in the suite implements (ours and the baselines).

A network is encoder -> ``transform`` (feature-space stylization) -> decoder. Splitting it this
way lets the losses reuse the encoder features, lets inference blend several styles, apply
masks and the content/style trade-off alpha in feature space, and lets one LightningModule train
every method.
"""

from __future__ import annotations

import inspect
from typing import Any, Optional, Sequence

import torch
from torch import Tensor, nn

from stylekernel.errors import ConfigError
from stylekernel.nn.decoder import Decoder
from stylekernel.nn.encoder import VGGEncoder


class StyleTransferNet(nn.Module):
    """Base class: subclasses build ``self.encoder``/``self.decoder`` and implement ``transform``.

    Attributes:
        feature_layers: encoder layers ``transform`` reads (content and style alike).
        stride: the input size must be a multiple of this (8 for relu4_1, 16 with relu5_1).
    Constructor arguments are recorded (``init_config()``) so a checkpoint can rebuild the net.
    """

    feature_layers: tuple[str, ...] = ("relu4_1",)
    stride: int = 8
    encoder: VGGEncoder
    decoder: Decoder

    def __new__(cls, *args: Any, **kwargs: Any) -> "StyleTransferNet":
        obj = super().__new__(cls)
        bound = inspect.signature(cls.__init__).bind(obj, *args, **kwargs)
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        arguments.pop("self")
        obj.__dict__["_init_args"] = arguments
        return obj

    def init_config(self) -> dict[str, Any]:
        """``{"class_path": ..., "init_args": {...}}`` that rebuilds this network."""
        cls = type(self)
        return {"class_path": f"{cls.__module__}.{cls.__qualname__}", "init_args": dict(self.__dict__["_init_args"])}

    @staticmethod
    def from_config(config: dict[str, Any]) -> "StyleTransferNet":
        """Build a network from :meth:`init_config` output.

        ``class_path`` is looked up among the registered networks of the suite
        (:func:`registered_networks`) and never imported: a checkpoint cannot make this process
        import a module of its choosing. Raises :class:`ConfigError` for an unknown class or
        malformed arguments; the constructor raises it for bad values.
        """
        if not isinstance(config, dict):
            raise ConfigError(f"network record must be a mapping, got {type(config).__name__}")
        class_path = config.get("class_path")
        init_args = config.get("init_args", {})
        known = registered_networks()
        if not isinstance(class_path, str) or class_path not in known:
            raise ConfigError(f"network class {class_path!r} is not a registered network of the suite (known: {', '.join(sorted(known))})")
        if not isinstance(init_args, dict) or not all(isinstance(k, str) for k in init_args):
            raise ConfigError(f"network record of {class_path}: init_args must be a mapping of argument names")
        return known[class_path](**init_args)

    def build_encoder_decoder(
        self,
        encoder_weights: str,
        *,
        padding_mode: str = "auto",
        ceil_mode: bool = False,
        last_layer: str = "relu5_1",
        decoder: bool = True,
    ) -> None:
        """The parts every network shares: the frozen VGG19 encoder up to relu5_1 (the losses
        read relu5_1 whatever ``feature_layers`` is) and the VGG-mirror decoder from 512 channels.

        ``padding_mode`` and ``ceil_mode`` are :class:`VGGEncoder`'s (the baselines pass their
        peer's conventions); ``last_layer`` ends the encoder earlier for a peer whose released
        VGG stops there; ``decoder=False`` leaves the decoder to the subclass."""
        self.encoder = VGGEncoder(encoder_weights, last_layer=last_layer, padding_mode=padding_mode, ceil_mode=ceil_mode)
        if decoder:
            self.decoder = Decoder(512)

    # --- the three stages -------------------------------------------------------------------
    def encode(self, image: Tensor, layers: Sequence[str] | None = None) -> dict[str, Tensor]:
        """image: (B, 3, H, W) in [0, 1] -> encoder features (``feature_layers`` by default)."""
        return self.encoder(image, self.feature_layers if layers is None else layers)

    def transform(self, content: dict[str, Tensor], style: dict[str, Tensor]) -> Tensor:
        """Stylized features at relu4_1: content/style feature dicts -> (B, 512, H/8, W/8).

        Networks with a tiled transform (``transform_halo`` set) get this for free as
        ``transform_local(content, transform_global(content, style_state(style)))``; the others
        override it.
        """
        if self.transform_halo is None:
            raise NotImplementedError(f"{type(self).__name__} must implement transform")
        return self.transform_local(content, self.transform_global(content, self.style_state(style)))

    # --- the tiling hook (used by stylekernel.tiling.tiled_transform) -------------------------
    #: relu4_1 cells of content context that ``transform_local`` reads beyond each output cell,
    #: or None: the transform needs the whole map (the engine then runs ``transform`` untiled).
    transform_halo: Optional[int] = None

    def style_state(self, style: dict[str, Tensor]) -> Any:
        """Everything the transform needs from the style alone (e.g. attention keys/values).

        Depends on the style only, so the engine computes it once per style image and caches
        it. Default: the style features themselves.
        """
        return style

    def transform_global(self, content: dict[str, Tensor], style_state: Any) -> Any:
        """The global part: content-wide quantities (e.g. mean/std for mvn) + the style state.

        content: the whole content feature dict. The result is passed to every
        ``transform_local`` call. Default: both, untouched.
        """
        return {"content": content, "style": style_state}

    def transform_local(self, content: dict[str, Tensor], state: Any) -> Tensor:
        """The local part on a tile of content features (with ``transform_halo`` cells of
        context, relu5_1 tiles covering the same area) -> (B, 512, h, w) for the tile.

        Default (untiled networks only): ``transform`` of the whole map.
        """
        if self.transform_halo is not None:
            raise NotImplementedError(f"{type(self).__name__} sets transform_halo but not transform_local")
        return self.transform(content, state["style"])

    def decode(self, z: Tensor) -> Tensor:
        """(B, 512, h, w) -> (B, 3, 8h, 8w), unclamped."""
        return self.decoder(z)

    def content_code(self, content: dict[str, Tensor]) -> Tensor:
        """The code ``decode`` reads for the unstylized content, what ``alpha`` blends towards:
        relu4_1 (B, 512, H/8, W/8) here; a network whose code ``transform`` packs more (AdaAttN's
        relu3_1 skip) overrides it. Linear blends of codes are what inference mixes."""
        return content["relu4_1"]

    def check_alpha(self, alpha: float) -> None:
        """Raise :class:`ConfigError` (one line naming the method) if ``alpha`` means nothing for
        this network. Default: every alpha in [0, 1] blends codes (see :meth:`forward`); AdaConv
        refuses alpha != 1. The inference engine calls it before any work."""

    def forward(self, content: Tensor, style: Tensor, alpha: float = 1.0) -> Tensor:
        """content: (B, 3, H, W), style: (B, 3, H', W') in [0, 1] -> (B, 3, H, W), unclamped.

        H and W must be multiples of ``stride`` (inference pads for you). ``alpha`` blends the
        stylized and the content features: z = alpha * transform + (1 - alpha) * content_code.
        """
        self.check_alpha(alpha)
        fc, fs = self.encode(content), self.encode(style)
        z = self.transform(fc, fs)
        if alpha != 1.0:
            z = alpha * z + (1.0 - alpha) * self.content_code(fc).to(z.dtype)
        return self.decode(z)

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    @torch.no_grad()
    def parameter_count(self, trainable_only: bool = True) -> int:
        params = self.trainable_parameters() if trainable_only else list(self.parameters())
        return sum(p.numel() for p in params)


def registered_networks() -> dict[str, type[StyleTransferNet]]:
    """``{"module.Class": class}`` of every network of :func:`stylekernel.baselines.registry.models`.

    The allow-list of :meth:`StyleTransferNet.from_config`: a network is loadable from a
    checkpoint the moment it is registered (``@register_model``), and nothing else is.
    """
    from stylekernel.baselines.registry import models

    return {f"{c.__module__}.{c.__qualname__}": c for c in models().values()}
