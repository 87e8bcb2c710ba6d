"""What every deployment backend is: a :class:`Backend` entry of the backend table, and a
:class:`DetectorRunner` that runs an exported detector in that backend's runtime.

Nothing here imports torch or a runtime package: a runner module imports its runtime when a
model is loaded, and the table (:mod:`mmlight.deployment.backends`) imports a backend module
only when that backend is asked for.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..metadata import REEXPORT, DeployMetadata, parse_metadata

# the outputs of DeployableDetector: without and with masks, and either with the two-stage
# detectors' proposals
OUTPUT_SIGNATURES = tuple(
    names + extra
    for names in (('dets', 'labels'), ('dets', 'labels', 'masks'))
    for extra in ((), ('proposals',))
)

# (names of the exported nodes a runtime layer was built from, its type, seconds)
ExecutedNode = tuple[tuple[str, ...], str, float]


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity where the OS says, else all)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def import_runtime(package: str, backend: str) -> Any:
    """Import an optional runtime package, or say how to install it.

    Args:
        package: its import name ('onnxruntime', 'openvino').
        backend: the backend that needs it, for the error.

    Returns:
        The module.
    """
    try:
        return importlib.import_module(package)
    except ImportError as err:
        raise ImportError(
            f'the {backend} backend needs the {package} package: pip install {package} (or bash '
            f'tools/ensure_env.sh)'
        ) from err


@dataclass(frozen=True)
class Backend:
    """One deployment backend: how an exported ONNX graph becomes its model file, which
    precisions it runs, and its runner.

    Args:
        name: what the tools' ``--backend`` takes ('onnxruntime', 'openvino').
        suffix: the model file's extension ('.onnx', '.xml').
        precisions: the precisions it runs, the default first.
        runner: the :class:`DetectorRunner` subclass that runs a model file.
        convert: ``convert(onnx_file, out_file, precision, calibration=None, metadata=None)``
            writes the model file ``out_file`` from an mmlight ONNX export and returns it.
        profile: ``profile(model_file, image, iters, precision)`` runs the model ``iters``
            times after one warm-up and returns the executed nodes of those runs
            (:data:`ExecutedNode`) and their total seconds.
        requires: the Python packages (import names) it needs to run.
        calibrated: the precisions whose conversion needs calibration images.
        shared_files: precision -> the precision whose model file it runs (OpenVINO's bf16
            runs the fp32 IR with another inference hint).
    """

    name: str
    suffix: str
    precisions: tuple[str, ...]
    runner: Callable[..., DetectorRunner]
    convert: Callable[..., str]
    profile: Callable[..., tuple[list[ExecutedNode], float]]
    requires: tuple[str, ...] = ()
    calibrated: tuple[str, ...] = ()
    shared_files: dict[str, str] = field(default_factory=dict)

    @property
    def default_precision(self) -> str:
        return self.precisions[0]

    def check_precision(self, precision: str | None) -> str | None:
        """``precision`` if this backend runs it (None stays None: the model's own); a
        ValueError naming the precisions it runs otherwise."""
        if precision is not None and precision not in self.precisions:
            raise ValueError(
                f'the {self.name} backend runs {"/".join(self.precisions)}, not '
                f'precision {precision!r}'
            )
        return precision

    def available(self) -> bool:
        """Whether this environment has the packages the backend needs."""
        return all(importlib.util.find_spec(name) is not None for name in self.requires)

    def file_precision(self, precision: str) -> str:
        """The precision of the model file that runs ``precision``."""
        return self.shared_files.get(precision, precision)

    def load(self, path: str, precision: str | None = None, **options: Any) -> DetectorRunner:
        """The runner of the model file ``path`` in ``precision`` (None: the file's own)."""
        return self.runner(path, precision=self.check_precision(precision), **options)


class DetectorRunner:
    """An exported detector in one runtime: the checks on what goes in and what comes out.

    A runner takes one image, float32 ``[1, 3, H, W]`` (BGR, 0-255, resized as the config's
    test pipeline resizes it; a numpy array, or anything with ``.numpy()`` such as a tensor),
    and returns a dict of numpy arrays ``dets`` ``[N, 5]``, ``labels`` ``[N]`` and, for Mask
    R-CNN, ``masks`` ``[N, H, W]`` (and ``proposals`` where the graph was exported with them).
    Subclasses set ``output_names`` and ``input_shape`` (``[1, 3, H, W]`` with ``None`` for a
    dynamic side) and implement :meth:`run`.
    """

    backend = 'none'
    precision = 'fp32'
    path = ''
    output_names: tuple[str, ...] = ()
    input_shape: tuple[int | None, ...] = ()

    @property
    def name(self) -> str:
        return type(self).__name__

    @property
    def with_mask(self) -> bool:
        return 'masks' in self.output_names

    @property
    def arithmetic(self) -> str:
        """The precision its convolutions and matrix products run in ('fp32', 'bf16', 'int8'):
        the runner's precision, unless the runtime fell back from it on this CPU."""
        return self.precision

    def check_signature(self, path: str, input_names: Sequence[str]) -> None:
        """Raise unless the file is an mmlight detector export (input 'image', outputs dets,
        labels[, masks][, proposals])."""
        if list(input_names) != ['image'] or tuple(self.output_names) not in OUTPUT_SIGNATURES:
            raise ValueError(
                f'{self.name}: {path} is not an mmlight detector export: expected input '
                f"'image' and outputs (dets, labels[, masks][, proposals]), got inputs "
                f'{list(input_names)} and outputs {list(self.output_names)}'
            )

    @property
    def metadata(self) -> DeployMetadata | None:
        """What the model file says about itself (:mod:`mmlight.deployment.metadata`), or None
        for a file exported without it."""
        text = self.metadata_text()
        return None if text is None else parse_metadata(text, self.path)

    def metadata_text(self) -> str | None:
        """The JSON the model file holds under ``mmlight`` (None: none)."""
        return None

    def check_image(self, image: Any) -> np.ndarray:
        """One image as float32 ``[1, 3, H, W]``; refused where a fixed-size graph cannot take
        it (a side larger than the graph's)."""
        if hasattr(image, 'detach'):  # a torch tensor, without importing torch
            image = image.detach().cpu().numpy()
        image = np.ascontiguousarray(image, dtype=np.float32)
        if image.ndim != 4 or image.shape[:2] != (1, 3):
            raise ValueError(
                f'{self.name}: expected one image as float32 [1, 3, H, W] '
                f'(BGR, 0-255), got shape {image.shape}'
            )
        for axis, size, found in zip(
            ('height', 'width'), self.input_shape[2:], image.shape[2:], strict=False
        ):
            if size is not None and found > size:
                raise ValueError(
                    f'{self.name}: this graph was exported for {axis} {size} (no --dynamic), '
                    f'got an image of shape {image.shape}: resize it to fit, or export with '
                    f'--dynamic or a larger --shape'
                )
        return image

    def pad_to_input(self, image: np.ndarray) -> np.ndarray:
        """A smaller image padded right and bottom to a fixed graph's size, with the pixel
        value the model file's metadata gives (the one that normalizes to mmdet's padding);
        ``image`` itself where the graph takes its size."""
        fixed = [size for size in self.input_shape[2:] if size is not None]
        if len(fixed) < 2 or tuple(image.shape[2:]) == tuple(fixed):
            return image
        metadata = self.metadata
        if metadata is None:
            raise ValueError(
                f'{self.name}: this graph was exported for {fixed[0]}x{fixed[1]} (no '
                f'--dynamic), got an image of shape {image.shape}; padding it needs the '
                f'metadata the file lacks: {REEXPORT}'
            )
        value = np.asarray(metadata.input.pad_value, np.float32).reshape(1, 3, 1, 1)
        padded = np.empty((1, 3, *fixed), np.float32)
        padded[...] = value
        padded[:, :, : image.shape[2], : image.shape[3]] = image
        return padded

    def for_another_thread(self) -> DetectorRunner:
        """A runner of the same model that may run at the same time as this one, in another
        thread (``self`` where the runtime's sessions are thread-safe)."""
        return self

    def for_requests(self, requests: int) -> list[DetectorRunner]:
        """Runners for ``requests`` images in flight at once, one per thread, that share the
        CPU's cores between them (a runtime's throughput set-up); ``[self]`` for one.

        Args:
            requests: how many images run at the same time (>= 1).

        Returns:
            ``requests`` runners of this model.
        """
        self.check_requests(requests)
        return [self] + [self.for_another_thread() for _ in range(requests - 1)]

    def check_requests(self, requests: int) -> None:
        """Refuse a count of requests in flight below one, naming it."""
        if requests < 1:
            raise ValueError(f'{self.name}: requests must be >= 1, got {requests}')

    def describe(self) -> str | None:
        """A line on how the runtime runs the model (precision used), or None."""
        return None

    def run(self, image: np.ndarray) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def __call__(self, image: Any) -> dict[str, np.ndarray]:
        """Run one image.

        A fixed-size graph takes a smaller image padded right and bottom to its size; the
        detections are then clipped to the image and the masks cropped to it (the padding
        moves no coordinate: it is right and bottom).

        Args:
            image: float32 ``[1, 3, H, W]`` (BGR, 0-255), a numpy array or a tensor.

        Returns:
            ``dets``, ``labels`` (and ``masks``, ``proposals``) as numpy arrays.
        """
        image = self.check_image(image)
        padded = self.pad_to_input(image)
        outputs = self.run(padded)
        result = {name: np.asarray(outputs[name]) for name in self.output_names}
        if padded is not image:
            height, width = image.shape[2:]
            dets = result['dets'].copy()
            dets[:, 0:4:2] = dets[:, 0:4:2].clip(0, width)
            dets[:, 1:4:2] = dets[:, 1:4:2].clip(0, height)
            result['dets'] = dets
            if 'masks' in result:
                result['masks'] = result['masks'][:, :height, :width]
        return result
