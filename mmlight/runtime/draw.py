"""Detections drawn on their image with OpenCV: a box, and its class and score above it."""

from __future__ import annotations

import cv2
import numpy as np

from .detector import Detections


def color(label: int) -> tuple[int, int, int]:
    """A BGR colour per label, the same in every picture."""
    hue = (label * 47) % 180
    pixel = np.uint8([[[hue, 200, 230]]])
    b, g, r = cv2.cvtColor(pixel, cv2.COLOR_HSV2BGR)[0, 0]
    return int(b), int(g), int(r)


def draw_detections(image: np.ndarray, detections: Detections) -> np.ndarray:
    """A copy of ``image`` (HxWx3 BGR) with ``detections`` drawn, masks tinted.

    Args:
        image: the image the detections were found in.
        detections: its detections (e.g. ``Detections.above(score_thr)``).

    Returns:
        The picture.
    """
    picture = image.copy()
    thickness = max(1, round(max(image.shape[:2]) / 400))
    # labels in proportion to the picture: readable at 800 px, not covering a 100 px one
    scale = max(0.25, max(image.shape[:2]) / 1000)
    for index, (box, score, label, name) in enumerate(
        zip(detections.boxes, detections.scores, detections.labels, detections.names, strict=True)
    ):
        bgr = color(int(label))
        if detections.masks is not None:
            mask = detections.masks[index]
            picture[mask] = (0.5 * picture[mask] + 0.5 * np.array(bgr)).astype(np.uint8)
        x1, y1, x2, y2 = (round(float(v)) for v in box)
        cv2.rectangle(picture, (x1, y1), (x2, y2), bgr, thickness)
        text = f'{name} {score:.2f}'
        (width, height), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        # above the box, inside the picture
        top = max(y1 - height - baseline, 0)
        left = max(min(x1, image.shape[1] - width), 0)
        cv2.rectangle(picture, (left, top), (left + width, top + height + baseline), bgr, -1)
        cv2.putText(
            picture,
            text,
            (left, top + height),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            (0, 0, 0),
            1,
            cv2.LINE_AA,
        )
    return picture
