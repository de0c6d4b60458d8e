"""garmentparse: segmentation-first garment parsing toolkit."""

__version__ = "0.1.0"
