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


def test_tiff_8_and_16_bit_and_a_dangling_link(tmp_path):
    """Studio photos come as TIFF, often 16 bits per channel: found and read as 8-bit RGB
    (scaled, not clipped). A link whose target is gone is listed, and reading it says why."""
    import cv2

    ramp = np.linspace(0, 65535, 32 * 48).reshape(32, 48).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "gray16.tif")
    rgb16 = np.stack([ramp, ramp // 2, 65535 - ramp], axis=2)
    cv2.imwrite(str(tmp_path / "rgb16.TIFF"), rgb16[:, :, ::-1])  # OpenCV writes BGR
    Image.new("RGB", (8, 4), (10, 200, 30)).save(tmp_path / "plain.tif", compression="tiff_lzw")
    (tmp_path / "gone.jpg").symlink_to(tmp_path / "deleted-long-ago.jpg")
    (tmp_path / "gone.txt").symlink_to(tmp_path / "nothing.txt")  # not an image suffix: not listed
    assert [p.name for p in find_images(tmp_path)] == ["gone.jpg", "gray16.tif", "plain.tif", "rgb16.TIFF"]
    gray = load_rgb(tmp_path / "gray16.tif")
    assert gray.shape == (32, 48, 3) and gray[0, 0, 0] == 0 and gray[-1, -1, 0] == 255
    colour = load_rgb(tmp_path / "rgb16.TIFF")
    assert colour.dtype == np.uint8 and colour[-1, -1].tolist() == [255, 127, 0]
    assert np.abs(colour[..., 0].astype(int) - (ramp / 257).round().astype(int)).max() <= 1
    assert load_rgb(tmp_path / "plain.tif")[0, 0].tolist() == [10, 200, 30]
    assert image_size(tmp_path / "rgb16.TIFF") == (48, 32)
    with pytest.raises(ImageReadError, match="broken link"):
        load_rgb(tmp_path / "gone.jpg")
