"""Images in, as mmcv's test pipeline takes them: decoded by OpenCV as ``LoadImageFromFile``
decodes them, resized as mmdet's ``Resize`` resizes them (the same cv2 calls), and the
detections' coordinates back in the original image's."""

from __future__ import annotations

import os
import os.path as osp
from typing import Any

import cv2
import numpy as np

from mmlight.deployment.metadata import PadSpec, ResizeSpec

# mmcv's names of cv2's interpolations (mmcv.image.geometric.cv2_interp_codes)
INTERPOLATIONS = {
    'nearest': cv2.INTER_NEAREST,
    'bilinear': cv2.INTER_LINEAR,
    'bicubic': cv2.INTER_CUBIC,
    'area': cv2.INTER_AREA,
    'lanczos': cv2.INTER_LANCZOS4,
}
# mmcv's imread flags for LoadImageFromFile's color_type
COLOR_TYPES = {
    'color': cv2.IMREAD_COLOR,
    'grayscale': cv2.IMREAD_GRAYSCALE,
    'unchanged': cv2.IMREAD_UNCHANGED,
}
# mmcv's impad border types
PADDING_MODES = {
    'constant': cv2.BORDER_CONSTANT,
    'edge': cv2.BORDER_REPLICATE,
    'reflect': cv2.BORDER_REFLECT_101,
    'symmetric': cv2.BORDER_REFLECT,
}
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


class ImageReadError(ValueError):
    """An image file that cannot be read: missing, empty, or not an image OpenCV decodes."""


def read_image(path: str, color_type: str = 'color') -> np.ndarray:
    """An image file as ``LoadImageFromFile`` reads it (``cv2.imdecode`` of the file's bytes):
    with 'color', HxWx3 uint8 BGR, grayscale and RGBA files converted, 16-bit ones scaled to
    8 bits.

    Args:
        path: the file.
        color_type: LoadImageFromFile's ``color_type`` ('color', 'grayscale', 'unchanged').

    Returns:
        The decoded image.

    Raises:
        ImageReadError: the file is missing, empty or not an image, saying which.
    """
    if not osp.exists(path):
        raise ImageReadError(f'{path}: no such file')
    if osp.isdir(path):
        raise ImageReadError(f'{path}: a folder, not an image file')
    with open(path, 'rb') as f:
        content = f.read()
    if not content:
        raise ImageReadError(f'{path}: the file is empty')
    image = cv2.imdecode(np.frombuffer(content, np.uint8), COLOR_TYPES[color_type])
    if image is None:
        raise ImageReadError(
            f'{path}: not an image OpenCV can decode (truncated, or another '
            f'format; {len(content)} bytes)'
        )
    return image


def check_array(image: Any) -> np.ndarray:
    """An image given as an array: HxWx3 uint8, BGR (as ``cv2.imread`` gives)."""
    if (
        not isinstance(image, np.ndarray)
        or image.ndim != 3
        or image.shape[2] != 3
        or image.dtype != np.uint8
    ):
        found = (
            f'an array of shape {image.shape} and dtype {image.dtype}'
            if isinstance(image, np.ndarray)
            else type(image).__name__
        )
        raise ValueError(f'expected an image file path or an HxWx3 uint8 BGR array, got {found}')
    if min(image.shape[:2]) < 1:
        raise ValueError(f'expected a non-empty image, got shape {image.shape}')
    return image


def rescale_size(width: int, height: int, scale: tuple[int, int]) -> tuple[int, int]:
    """mmcv's ``rescale_size`` for a (long, short)-edge scale: the largest size with the image's
    aspect ratio that fits ``scale`` either way round, each side rounded half up."""
    factor = min(max(scale) / max(height, width), min(scale) / min(height, width))
    return int(width * float(factor) + 0.5), int(height * float(factor) + 0.5)


def resize(image: np.ndarray, resize_cfg: ResizeSpec) -> tuple[np.ndarray, tuple[float, float]]:
    """mmdet's ``Resize`` of the test pipeline (mmcv's ``imrescale`` with ``keep_ratio``, else
    ``imresize`` to the scale).

    Args:
        image: HxWxC.
        resize_cfg: the model's ``preprocess.resize`` metadata: ``scale`` (width, height),
            ``keep_ratio``, ``interpolation``.

    Returns:
        The resized image and its (width, height) scale factors, as mmdet records them.
    """
    height, width = image.shape[:2]
    scale = tuple(resize_cfg.scale)
    if resize_cfg.keep_ratio:
        size = rescale_size(width, height, scale)
    else:
        size = (int(scale[0]), int(scale[1]))
    resized = cv2.resize(image, size, interpolation=INTERPOLATIONS[resize_cfg.interpolation])
    new_height, new_width = resized.shape[:2]
    return resized, (new_width / width, new_height / height)


def pad(image: np.ndarray, pad_cfg: PadSpec) -> np.ndarray:
    """mmdet's ``Pad`` of the test pipeline (mmcv's ``impad``): right and bottom, to a fixed
    size, to a square, or to multiples of a divisor.

    Args:
        image: HxWxC, resized.
        pad_cfg: the model's ``preprocess.pad`` metadata: ``size`` (width, height),
            ``size_divisor``, ``pad_to_square``, ``value``, ``padding_mode``.

    Returns:
        The padded image (the image is the padded one's top-left corner).
    """
    height, width = image.shape[:2]
    size = None
    if pad_cfg.pad_to_square:
        size = (max(height, width),) * 2
    if pad_cfg.size_divisor is not None:
        divisor = int(pad_cfg.size_divisor)
        size = size or (height, width)
        size = (-(-size[0] // divisor) * divisor, -(-size[1] // divisor) * divisor)
    elif pad_cfg.size is not None:
        size = (int(pad_cfg.size[1]), int(pad_cfg.size[0]))
    if size is None:
        return image
    value = pad_cfg.value
    if isinstance(value, list):
        value = tuple(value)
    elif isinstance(value, int) and image.ndim == 3:
        value = (value,) * image.shape[2]
    return cv2.copyMakeBorder(
        image,
        0,
        max(size[0] - height, 0),
        0,
        max(size[1] - width, 0),
        PADDING_MODES[pad_cfg.padding_mode],
        value=value,
    )


def to_input(image: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 BGR as the graph's input, float32 ``[1, 3, H, W]``."""
    return np.ascontiguousarray(image.transpose(2, 0, 1)[None], dtype=np.float32)


def masks_to_original(masks: np.ndarray, height: int, width: int) -> np.ndarray:
    """Masks [N, h, w] at the original image's size, by nearest-neighbour sampling as
    ``torch.nn.functional.interpolate(mode='nearest')`` samples (the source index of output
    pixel i is floor(i * in / out), in float32)."""
    if masks.shape[1:] == (height, width):
        return masks.astype(bool)

    def rows(size_in: int, size_out: int) -> np.ndarray:
        scale = np.float32(size_in) / np.float32(size_out)
        index = np.floor(np.arange(size_out, dtype=np.float32) * scale).astype(np.int64)
        return np.minimum(index, size_in - 1)

    return masks[:, rows(masks.shape[1], height)][:, :, rows(masks.shape[2], width)].astype(bool)


def image_files(paths: list[str]) -> list[str]:
    """``paths`` with each folder replaced by the image files in it (sorted, by suffix)."""
    files = []
    for path in paths:
        if osp.isdir(path):
            files += sorted(
                osp.join(path, name)
                for name in os.listdir(path)
                if name.lower().endswith(IMAGE_SUFFIXES)
            )
        else:
            files.append(path)
    return files
