"""garmentparse: segmentation-first garment parsing toolkit."""

__version__ = "0.1.0"


def tag(*args, **kwargs):
    """Tag a folder of photos from checkpoint files; see :func:`garmentparse.tagging.tag`."""
    from garmentparse.tagging import tag as _tag

    return _tag(*args, **kwargs)
