"""An exported detector on images, without the training stack: the model file's own metadata
says how to preprocess, which classes it detects and how large its input may be."""

from __future__ import annotations

import os
import os.path as osp
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mmlight.deployment.backends import backend_for_file, load_runner
from mmlight.deployment.metadata import REEXPORT, DeployMetadata, MissingMetadataError

from .image import check_array, masks_to_original, pad, read_image, resize, to_input


@dataclass
class Detections:
    """One image's detections, in the original image's coordinates.

    Args:
        boxes: [N, 4] float32, (x1, y1, x2, y2) pixels.
        scores: [N] float32.
        labels: [N] int64, indices into ``classes``.
        classes: the model's class names.
        masks: [N, H, W] bool at the image's size, for a model with masks.
        image_shape: (height, width) of the image.
    """

    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    classes: list[str] = field(default_factory=list)
    masks: np.ndarray | None = None
    image_shape: tuple[int, int] = (0, 0)

    def __len__(self) -> int:
        return len(self.scores)

    @property
    def names(self) -> list[str]:
        """The class name of each detection."""
        return [
            self.classes[int(label)] if int(label) < len(self.classes) else str(label)
            for label in self.labels
        ]

    def above(self, score_thr: float) -> Detections:
        """The detections with a score of at least ``score_thr``."""
        keep = self.scores >= score_thr
        return Detections(
            self.boxes[keep],
            self.scores[keep],
            self.labels[keep],
            self.classes,
            None if self.masks is None else self.masks[keep],
            self.image_shape,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (masks left out)."""
        return {
            'height': int(self.image_shape[0]),
            'width': int(self.image_shape[1]),
            'detections': [
                {
                    'box': [round(float(v), 2) for v in box],
                    'score': round(float(score), 5),
                    'label': int(label),
                    'class': name,
                }
                for box, score, label, name in zip(
                    self.boxes, self.scores, self.labels, self.names, strict=True
                )
            ],
        }


class Detector:
    """An exported mmlight detector (.onnx for onnxruntime, .xml for OpenVINO) on images.

    Example::

        from mmlight.runtime import Detector
        detector = Detector('det.xml')
        found = detector('image.jpg')            # or an HxWx3 uint8 BGR array
        for box, score, name in zip(found.boxes, found.scores, found.names):
            print(name, score, box)

    Args:
        model_file: a model file written by ``tools/deployment/export_onnx.py``.
        precision: the precision to run in (OpenVINO: 'fp32', 'bf16', 'int8'); None: the
            model's own.
        device: where it runs; 'CPU' (the backends run on the CPU).
        num_threads: the runtime's threads per request (0: its default, all cores).
        backend: the backend's name; None: the one whose model files have this suffix.

    Raises:
        MissingMetadataError: the file was exported without mmlight's metadata.
    """

    def __init__(
        self,
        model_file: str,
        precision: str | None = None,
        device: str = 'CPU',
        num_threads: int = 0,
        backend: str | None = None,
    ):
        if device.upper() != 'CPU':
            raise ValueError(f"Detector: the backends run on device 'CPU', got {device!r}")
        self.model_file = model_file
        self.backend = backend or backend_for_file(model_file)
        self.runner = load_runner(self.backend, model_file, precision, num_threads=num_threads)
        metadata = self.runner.metadata
        if metadata is None:
            raise MissingMetadataError(f'{model_file} holds no mmlight metadata: {REEXPORT}')
        metadata.check_runnable(model_file)
        self.metadata: DeployMetadata = metadata
        self.classes: list[str] = list(metadata.classes or [])
        self.with_mask = 'masks' in self.runner.output_names
        # Detector.stream's runners by the number of requests (a throughput set-up each)
        self._stream_runners: dict[int, list[Any]] = {}

    @property
    def input_shape(self) -> tuple[int, int] | None:
        """(height, width) of a fixed-size model's input; None for a dynamic one."""
        return self.metadata.input_shape

    def load(self, image: str | np.ndarray) -> np.ndarray:
        """An image path read as the model's pipeline reads it, or an array checked."""
        if isinstance(image, (str, bytes)) or hasattr(image, '__fspath__'):
            return read_image(os.fspath(image), self.metadata.preprocess.decode.color_type)
        return check_array(image)

    def preprocess(self, image: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
        """The graph's input for an image, and the resize's (width, height) scale factors.

        Raises:
            ValueError: a fixed-size model's input is smaller than the resized image.
        """
        steps = self.metadata.preprocess
        resized, scale = resize(image, steps.resize)
        if steps.pad is not None:
            resized = pad(resized, steps.pad)
        self.metadata.check_input_size(
            resized.shape[0],
            resized.shape[1],
            f'an image of {image.shape[0]}x{image.shape[1]}',
            osp.basename(self.model_file),
        )
        return to_input(resized), scale

    def __call__(self, image: str | np.ndarray) -> Detections:
        """Detect in one image.

        Args:
            image: an image file's path, or an HxWx3 uint8 BGR array.

        Returns:
            The :class:`Detections` in the image's coordinates.
        """
        return self._detect(self.runner, image)

    def _detect(self, runner: Any, image: str | np.ndarray) -> Detections:
        array = self.load(image)
        batch, scale = self.preprocess(array)
        return self.postprocess(runner(batch), scale, array.shape[:2])

    def postprocess(
        self,
        outputs: dict[str, np.ndarray],
        scale: tuple[float, float],
        image_shape: tuple[int, int],
    ) -> Detections:
        """The graph's outputs in the original image's coordinates.

        Args:
            outputs: the runner's ``dets``, ``labels`` (and ``masks``).
            scale: the resize's (width, height) scale factors.
            image_shape: (height, width) of the original image.

        Returns:
            The :class:`Detections`: boxes divided by the scale factors (mmdet's
            ``rescale=True``), masks resized to the image.
        """
        scale_w, scale_h = scale
        dets = outputs['dets']
        boxes = dets[:, :4] / np.array([scale_w, scale_h, scale_w, scale_h], np.float32)
        height, width = image_shape
        masks = None
        if 'masks' in outputs:
            # without the test pipeline's Pad (the resized image is the input's top-left part)
            resized = outputs['masks'][:, : round(height * scale_h), : round(width * scale_w)]
            masks = masks_to_original(resized, height, width)
        return Detections(
            boxes.astype(np.float32),
            dets[:, 4].astype(np.float32),
            outputs['labels'].astype(np.int64),
            self.classes,
            masks,
            (int(height), int(width)),
        )

    def stream(
        self, images: Iterable[str | np.ndarray], requests: int = 2
    ) -> Iterator[Detections | Exception]:
        """Detect in many images with several requests in flight (each reads, preprocesses,
        runs and post-processes its image in its own thread), in the order given.

        With more than one request the model is set up for throughput once per count (OpenVINO
        compiles it with its ``THROUGHPUT`` hint and one stream per request; onnxruntime opens
        one session per request), the cores divided between the requests.

        Args:
            images: image paths or arrays.
            requests: how many images are in flight at once.

        Yields:
            The :class:`Detections` of each image, or, for an image that could not be read,
            the exception that says why (the others still run).
        """
        if requests < 1:
            raise ValueError(f'Detector.stream: requests must be >= 1, got {requests}')
        if requests not in self._stream_runners:
            self._stream_runners[requests] = self.runner.for_requests(requests)
        free = list(self._stream_runners[requests])

        def detect(image):
            runner = free.pop()
            try:
                return self._detect(runner, image)
            except (ValueError, OSError) as err:
                return err
            finally:
                free.append(runner)

        with ThreadPoolExecutor(max_workers=requests) as pool:
            yield from pool.map(detect, images)
