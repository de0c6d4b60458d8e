"""Detector backends, one module each; each registers itself in
:data:`garmentparse.parsing.registry.BACKENDS`, which imports them on its first lookup.

- :mod:`.torchvision` - torchvision Mask R-CNN (the default, tested).
- :mod:`.detectron2` - detectron2's Mask R-CNN (optional, used where ``import detectron2`` works).
"""

from garmentparse.parsing.registry import BACKENDS, Backend, available_backends

__all__ = ["BACKENDS", "Backend", "available_backends"]
