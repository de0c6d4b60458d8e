"""Reading photos: modes, EXIF, deep grayscale, colour keys, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from garmentparse.imageio import ImageReadError, find_images, image_size, load_rgb


def test_load_rgb_modes_exif_and_errors(tmp_path):
    Image.new("L", (8, 4), 128).save(tmp_path / "gray.png")
    Image.new("CMYK", (8, 4)).save(tmp_path / "cmyk.jpg")
    Image.new("RGBA", (8, 4), (0, 0, 0, 0)).save(tmp_path / "alpha.png")
    rot = Image.new("RGB", (8, 4))
    exif = rot.getexif()
    exif[0x0112] = 6  # rotate 90
    rot.save(tmp_path / "rot.jpg", exif=exif)
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    assert load_rgb(tmp_path / "gray.png").shape == (4, 8, 3)
    assert load_rgb(tmp_path / "cmyk.jpg").shape == (4, 8, 3)
    assert load_rgb(tmp_path / "alpha.png")[0, 0].tolist() == [255, 255, 255]
    assert load_rgb(tmp_path / "rot.jpg").shape == (8, 4, 3)
    assert image_size(tmp_path / "rot.jpg") == (4, 8)
    with pytest.raises(ImageReadError):
        load_rgb(tmp_path / "broken.jpg")
    (tmp_path / "sub").mkdir()
    Image.new("RGB", (2, 2)).save(tmp_path / "sub" / "UPPER.JPEG")
    assert sorted(p.name for p in find_images(tmp_path)) == sorted(
        ["alpha.png", "broken.jpg", "cmyk.jpg", "gray.png", "rot.jpg", "UPPER.JPEG"]
    )

def test_load_rgb_scales_deep_grayscale_and_keys_out_transparent_colour(tmp_path):
    """16-bit grayscale is scaled to 8 bits (Pillow's convert would clip it to white); a
    transparent colour key (PNG tRNS) is composited on white like an alpha channel."""
    ramp = np.linspace(0, 65535, 32 * 48).reshape(32, 48).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    rgb = load_rgb(tmp_path / "deep.png")
    assert rgb.shape == (32, 48, 3) and rgb.dtype == np.uint8
    assert np.abs(rgb[..., 0].astype(int) - (ramp / 257).round().astype(int)).max() <= 1
    keyed = Image.new("RGB", (8, 8), (10, 20, 30))
    keyed.save(tmp_path / "keyed.png", transparency=(10, 20, 30))
    assert (load_rgb(tmp_path / "keyed.png") == 255).all()
