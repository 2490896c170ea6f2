"""Pure torch modules of the style-kernel network, one idea per file."""
