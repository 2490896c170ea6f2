"""One torchmetrics ``Metric`` per file; each has a functional core and a thin class shell.

``lpips.py`` LPIPS (stylized vs content), ``fid.py`` FID / FID_inf (stylized vs style set),
``artfid.py`` ArtFID, ``perceptual_losses.py`` content/style/Gram loss as in training,
``ssim.py`` SSIM; ``_base.py`` the shared float64 sum-and-count shell.
"""
