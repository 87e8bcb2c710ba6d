"""A deployment backend in one module, as a new runtime would be added: its model file holds
fixed detections (a .npz), which its runner returns for any image of the model's size. The
backend-table tests register it with one line."""

import numpy as np

from mmlight.deployment.backends.base import Backend, DetectorRunner


class FixedDetectionsRunner(DetectorRunner):
    backend = 'fake'

    def __init__(self, path, precision=None, num_threads=0, profile=False):
        with np.load(path) as model:
            self.outputs = {name: model[name] for name in ('dets', 'labels')}
            self.input_shape = tuple(int(side) for side in model['input_shape'])
        self.output_names = ('dets', 'labels')
        self.precision = precision or BACKEND.default_precision
        self.check_signature(path, ['image'])

    def run(self, image):
        return self.outputs


def convert(onnx_file, out_file, precision='fp16', calibration=None, metadata=None):
    np.savez(
        out_file,
        dets=np.array([[1.0, 2.0, 30.0, 40.0, 0.9]], np.float32),
        labels=np.array([2]),
        input_shape=np.array([1, 3, 64, 64]),
    )
    return out_file


def profile(model_file, image, iters=3, precision=None):
    runner = FixedDetectionsRunner(model_file, precision)
    for _ in range(iters + 1):
        runner(image)
    return [(('dets',), 'Constant', 0.0)], 0.0


BACKEND = Backend(
    name='fake',
    suffix='.npz',
    precisions=('fp16', 'fp32'),
    runner=FixedDetectionsRunner,
    convert=convert,
    profile=profile,
    requires=('numpy',),
)
