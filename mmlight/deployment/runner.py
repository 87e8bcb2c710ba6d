"""One interface for an exported detector in any runtime.

A runner takes one image, float32 ``[1, 3, H, W]`` (BGR, 0-255, resized as the config's test
pipeline resizes it; a numpy array or a tensor), and returns a dict of numpy arrays ``dets``
``[N, 5]``, ``labels`` ``[N]`` and, for Mask R-CNN, ``masks`` ``[N, H, W]`` (and ``proposals``
where the graph was exported with them). Each runtime is a
small subclass registered under its backend name; the evaluation, the benchmark and the tools
take the name (:func:`load_runner`), not the class.
"""
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch

# the outputs of DeployableDetector: without and with masks, and either with the two-stage
# detectors' proposals
OUTPUT_LAYOUTS = tuple(names + extra for names in (('dets', 'labels'), ('dets', 'labels', 'masks'))
                       for extra in ((), ('proposals', )))
BACKENDS: Dict[str, type] = {}


def register_backend(name: str):

    def register(cls):
        BACKENDS[name] = cls
        cls.backend = name
        return cls

    return register


class DetectorRunner:
    """The shared contract: the checks on what goes in and what comes out.

    Subclasses set ``output_names`` and ``input_shape`` (``[1, 3, H, W]`` with ``None`` for a
    dynamic side) and implement :meth:`run`.
    """

    backend = 'none'
    # the precisions the runner can run in; a runner with several takes a ``precision``
    precisions: Tuple[str, ...] = ('fp32', )
    output_names: Tuple[str, ...] = ()
    input_shape: Tuple[Optional[int], ...] = ()

    @property
    def name(self) -> str:
        return type(self).__name__

    @property
    def with_mask(self) -> bool:
        return 'masks' in self.output_names

    def check_layout(self, path: str, input_names: Sequence[str]):
        """Raise unless the file is an mmlight detector export (input 'image', outputs dets,
        labels[, masks][, proposals])."""
        if list(input_names) != ['image'] or tuple(self.output_names) not in OUTPUT_LAYOUTS:
            raise ValueError(
                f'{self.name}: {path} is not an mmlight detector export: expected input '
                f"'image' and outputs (dets, labels[, masks][, proposals]), got inputs "
                f'{list(input_names)} and outputs {list(self.output_names)}')

    def check_image(self, image) -> np.ndarray:
        if isinstance(image, torch.Tensor):
            image = image.detach().cpu().numpy()
        image = np.ascontiguousarray(image, dtype=np.float32)
        if image.ndim != 4 or image.shape[:2] != (1, 3):
            raise ValueError(f'{self.name}: expected one image as float32 [1, 3, H, W] '
                             f'(BGR, 0-255), got shape {image.shape}')
        for axis, size, found in zip(('height', 'width'), self.input_shape[2:], image.shape[2:]):
            if size is not None and size != found:
                raise ValueError(f'{self.name}: this graph was exported for {axis} {size} (no '
                                 f'--dynamic), got an image of shape {image.shape}')
        return image

    def run(self, image: np.ndarray) -> Dict[str, np.ndarray]:
        raise NotImplementedError

    def __call__(self, image) -> Dict[str, np.ndarray]:
        """``image``: float32 [1, 3, H, W] (BGR, 0-255), a numpy array or a tensor."""
        outputs = self.run(self.check_image(image))
        return {name: np.asarray(outputs[name]) for name in self.output_names}


def result_to_sample(outputs: Dict[str, np.ndarray], data_sample,
                          rescale: bool = True):
    """The outputs of one image as an mmdet DetDataSample with ``pred_instances``, in the
    original image's coordinates (mmdet's ``predict(rescale=True)``) when ``rescale``."""
    from mmengine.structures import InstanceData
    dets = torch.from_numpy(outputs['dets'])
    pred = InstanceData()
    bboxes = dets[:, :4]
    meta = data_sample.metainfo
    if rescale and 'scale_factor' in meta:
        scale_w, scale_h = meta['scale_factor']
        bboxes = bboxes / bboxes.new_tensor([scale_w, scale_h, scale_w, scale_h])
    pred.bboxes = bboxes
    pred.scores = dets[:, 4]
    pred.labels = torch.from_numpy(outputs['labels']).long()
    if 'masks' in outputs:
        masks = torch.from_numpy(outputs['masks'].astype(np.uint8))
        if rescale and 'ori_shape' in meta and masks.shape[-2:] != tuple(meta['ori_shape']):
            masks = torch.nn.functional.interpolate(
                masks[None].float(), size=tuple(meta['ori_shape']), mode='nearest')[0]
        pred.masks = masks.bool()
    data_sample.pred_instances = pred
    return data_sample


def backend_class(backend: str) -> type:
    """The runner class registered as ``backend`` ('onnxruntime', 'openvino')."""
    from . import onnx, openvino  # noqa: F401  (register the backends)
    if backend not in BACKENDS:
        raise ValueError(f'unknown backend {backend!r}; valid choices: {sorted(BACKENDS)}')
    return BACKENDS[backend]


def runner_options(backend: str, precision: Optional[str] = None, **options) -> dict:
    """The options of :func:`load_runner` for ``backend``, with ``precision`` where the
    backend runs several (OpenVINO); a precision the backend does not run is refused."""
    precisions = backend_class(backend).precisions
    if precision is not None and precision not in precisions:
        raise ValueError(f'the {backend} backend runs {"/".join(precisions)}, not precision '
                         f'{precision!r}')
    if len(precisions) > 1:
        options['precision'] = precision
    return options


def load_runner(backend: str, path: str, **options) -> DetectorRunner:
    """The exported detector ``path`` in ``backend`` ('onnxruntime', 'openvino');
    ``options`` go to that runner (``num_threads``, and ``precision`` for OpenVINO:
    :func:`runner_options`)."""
    return backend_class(backend)(path, **options)
