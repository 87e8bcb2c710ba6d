"""What an exported model file says about itself: everything inference needs besides the graph,
as JSON in the .onnx's ``metadata_props`` (key ``mmlight``) and the OpenVINO IR's ``rt_info``
(``mmlight/deploy``), so that :mod:`mmlight.runtime` runs it without the config.

:class:`DeployMetadata` is that record, typed: written from the config by
:func:`mmlight.deployment.export.deploy_metadata` when the graph is exported, read back by
:meth:`DeployMetadata.from_json` (json and dataclasses only: the runtime imports this module),
and checked by :meth:`DeployMetadata.check_runnable` before the runtime runs a file. The JSON
keeps the nested layout (format 1) of the files mmlight 0.2 wrote, which still load.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

METADATA_KEY = 'mmlight'
FORMAT = 1
# how to re-export a file without metadata, for the error that meets one
REEXPORT = (
    'export it again with tools/deployment/export_onnx.py (mmlight >= 0.3 writes the '
    'preprocessing, classes and input size into every model file)'
)


# the test-pipeline steps mmlight.runtime repeats (decoding, resizing, padding) or that do
# nothing to the image (annotations, packing)
RUNTIME_STEPS = ('LoadImageFromFile', 'Resize', 'Pad', 'LoadAnnotations', 'PackDetInputs')


class MissingMetadataError(ValueError):
    """A model file without mmlight's metadata (an export of an older mmlight, or another
    tool's), or without a part of it the runtime needs."""


@dataclass
class InputSpec:
    """The graph's input.

    Args:
        shape: (height, width) of a fixed-size graph; None for a dynamic one.
        dynamic_range: (smallest, largest) side a dynamic graph takes; None for a fixed one.
        pad_value: the BGR input pixel that normalizes to the preprocessor's pad value (what
            a fixed graph's smaller input is padded with).
        name, layout, channel_order, dtype, range: the input's tensor ('image', NCHW, BGR,
            float32, 0-255).
    """

    shape: list[int] | None
    dynamic_range: list[int] | None
    pad_value: list[float]
    name: str = 'image'
    layout: str = 'NCHW'
    channel_order: str = 'bgr'
    dtype: str = 'float32'
    range: list[int] = field(default_factory=lambda: [0, 255])


@dataclass
class DecodeSpec:
    """The test pipeline's ``LoadImageFromFile``: its ``color_type`` and decoding backend."""

    color_type: str = 'color'
    backend: str = 'cv2'


@dataclass
class ResizeSpec:
    """The test pipeline's ``Resize``: ``scale`` (width, height), ``keep_ratio`` and
    ``interpolation``, as mmcv takes them."""

    scale: list[int]
    keep_ratio: bool = False
    interpolation: str = 'bilinear'


@dataclass
class PadSpec:
    """The test pipeline's ``Pad`` of the resized image (mmcv's ``impad``).

    Args:
        size: (width, height) to pad to, or None.
        size_divisor: pad each side to a multiple of it, or None.
        pad_to_square: pad to a square first.
        value: the pad value as the config gives it (mmcv spreads an int over the channels
            and hands a list or a float to cv2 as it is).
        padding_mode: 'constant', 'edge', 'reflect' or 'symmetric'.
    """

    size: list[int] | None = None
    size_divisor: int | None = None
    pad_to_square: bool = False
    value: Any = 0
    padding_mode: str = 'constant'


@dataclass
class PreprocessSpec:
    """The test pipeline as the runtime repeats it.

    Args:
        decode: how images are read.
        resize: how they are resized.
        pad: the pipeline's Pad, None without one.
        size_divisor: the data preprocessor's padding divisor (inside the graph).
        steps: every step type of the test pipeline, in order: the runtime repeats those it
            knows (:data:`RUNTIME_STEPS`) and refuses a model with others.
    """

    decode: DecodeSpec
    resize: ResizeSpec
    pad: PadSpec | None = None
    size_divisor: int = 1
    steps: list[str] = field(default_factory=list)


@dataclass
class DeployMetadata:
    """Everything inference needs besides the graph.

    Args:
        task: 'bbox', or 'mask' for a detector with masks.
        detector_kind: the :class:`~mmlight.deployment.detector.DetectorKind`'s name.
        classes: the class names in label order (None: unknown).
        score_thr: the test_cfg's score threshold.
        input: the graph's input.
        preprocess: the test pipeline's image steps.
        outputs: the graph's output names.
        source: the config the model came from.
        mmlight_version: the mmlight that wrote it.
        precision: the precision an OpenVINO IR was made for (None in an .onnx).
        calibration: an int8 IR's calibration settings (None otherwise).
        format: the layout of this record (:data:`FORMAT`).
    """

    task: str
    detector_kind: str
    classes: list[str] | None
    score_thr: float
    input: InputSpec
    preprocess: PreprocessSpec
    outputs: list[str]
    source: str | None = None
    mmlight_version: str = ''
    precision: str | None = None
    calibration: dict[str, Any] | None = None
    format: int = FORMAT

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able nested dict (format 1's layout)."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: str = 'the model file') -> DeployMetadata:
        """The record of a dict that :meth:`to_dict` (or mmlight 0.2) wrote.

        Raises:
            ValueError: it is of another format, or lacks a part every format-1 file has,
                naming it.
        """
        if data.get('format') != FORMAT:
            raise ValueError(
                f'{path}: metadata format {data.get("format")!r}, this mmlight '
                f'reads format {FORMAT}: {REEXPORT}'
            )
        try:
            preprocess = dict(data['preprocess'])
            pad = preprocess.get('pad')
            return cls(
                task=data['task'],
                detector_kind=data['detector_kind'],
                classes=data.get('classes'),
                score_thr=float(data.get('score_thr', 0.0)),
                input=InputSpec(**data['input']),
                preprocess=PreprocessSpec(
                    decode=DecodeSpec(**preprocess['decode']),
                    resize=ResizeSpec(**preprocess['resize']),
                    pad=None if pad is None else PadSpec(**pad),
                    size_divisor=int(preprocess.get('size_divisor', 1)),
                    steps=list(preprocess.get('steps', [])),
                ),
                outputs=list(data['outputs']),
                source=data.get('source'),
                mmlight_version=data.get('mmlight_version', ''),
                precision=data.get('precision'),
                calibration=data.get('calibration'),
            )
        except (KeyError, TypeError) as err:
            raise ValueError(
                f'{path}: its mmlight metadata is incomplete ({err}): {REEXPORT}'
            ) from err

    @classmethod
    def from_json(cls, text: str | None, path: str = 'the model file') -> DeployMetadata:
        """The record a model file holds.

        Args:
            text: the JSON the file holds under ``mmlight`` (None: it holds none).
            path: the file, for the errors.

        Raises:
            MissingMetadataError: the file holds none, naming how to re-export it.
            ValueError: it is of a format this mmlight does not read.
        """
        if not text:
            raise MissingMetadataError(f'{path} holds no mmlight metadata: {REEXPORT}')
        return cls.from_dict(json.loads(text), path)

    @property
    def input_shape(self) -> tuple[int, int] | None:
        """(height, width) of a fixed-size graph's input; None for a dynamic one."""
        shape = self.input.shape
        return None if shape is None else (int(shape[0]), int(shape[1]))

    def check_runnable(self, path: str = 'the model file') -> None:
        """Raise unless :mod:`mmlight.runtime` computes what the full stack computes for this
        model: every test-pipeline step one it repeats, 3-channel BGR images, a Pad it knows
        how to repeat, and an input size range that holds an image.

        Raises:
            ValueError: a step it does not repeat, another colour type, an empty size range.
            MissingMetadataError: the pipeline pads and the file does not say how.
        """
        steps = [step.split('.')[-1] for step in self.preprocess.steps]
        others = [
            step for step in self.preprocess.steps if step.split('.')[-1] not in RUNTIME_STEPS
        ]
        if others:
            raise ValueError(
                f'{path}: its test pipeline has steps mmlight.runtime does not repeat '
                f'({", ".join(others)}; it repeats {", ".join(RUNTIME_STEPS)}): its detections '
                f"would not be the full stack's. Run it with the full stack "
                f'(mmlight.deployment.predict, tools/deployment/evaluate.py)'
            )
        color_type = self.preprocess.decode.color_type
        if color_type != 'color':
            raise ValueError(
                f'{path}: its test pipeline loads images with color_type={color_type!r}; '
                f"mmlight.runtime runs models of 3-channel BGR images (color_type='color'). "
                f'Run it with the full stack (mmlight.deployment.predict)'
            )
        if 'Pad' in steps and self.preprocess.pad is None:
            raise MissingMetadataError(
                f'{path}: its test pipeline pads the image, and the file does not say how: '
                f'{REEXPORT}'
            )
        sizes = self.input.shape if self.input.shape is not None else self.input.dynamic_range
        if sizes is None or len(sizes) != 2 or min(sizes) < 1:
            raise ValueError(
                f'{path}: its input size is {self.input.shape} with the dynamic range '
                f'{self.input.dynamic_range}; expected a fixed (height, width) or a dynamic '
                f'(smallest, largest) side, each at least 1: {REEXPORT}'
            )
        if self.input.shape is None and sizes[0] > sizes[1]:
            raise ValueError(
                f'{path}: its dynamic range {sizes} is empty (smallest side above the largest): '
                f'{REEXPORT}'
            )

    def check_input_size(self, height: int, width: int, what: str, model: str) -> None:
        """Refuse a resized image larger than a fixed graph's input, naming both sizes.

        Args:
            height, width: the resized image's size.
            what: the image it came from, for the error ('an image of 96x96').
            model: the model file's name, for the error.
        """
        fixed = self.input_shape
        if fixed is not None and (height > fixed[0] or width > fixed[1]):
            raise ValueError(
                f'{what} resizes to {height}x{width}, larger than the {fixed[0]}x{fixed[1]} '
                f'the model {model} was exported for: export it with --dynamic, or with a '
                f'--shape that holds the resize scale'
            )


def dumps(metadata: DeployMetadata | dict[str, Any]) -> str:
    """The JSON of a record (or of a dict in its layout)."""
    if isinstance(metadata, DeployMetadata):
        return metadata.to_json()
    return json.dumps(metadata, sort_keys=True)


def parse_metadata(text: str | None, path: str) -> DeployMetadata:
    """:meth:`DeployMetadata.from_json` (the name the backends' runners call)."""
    return DeployMetadata.from_json(text, path)
