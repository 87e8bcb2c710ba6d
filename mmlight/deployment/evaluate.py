"""The config's test set through an exported detector (onnxruntime or OpenVINO) and mmdet's own
evaluator: the numbers ``tools/test.py`` prints, for the deployed model."""

import copy

from mmengine.config import Config

from .predict import Runner, result_to_sample


def evaluate_deployed(cfg: Config, detector: Runner, out: str | None = None) -> dict:
    """The config's test set through an exported detector and ``cfg.test_evaluator``.

    Args:
        cfg: the detector config.
        detector: a :class:`~mmlight.deployment.backends.DetectorRunner`, e.g. from
            :func:`~mmlight.deployment.backends.load_runner`.
        out: also dump the predictions here (a .pkl), as ``tools/test.py --out`` does
            (mmdet's DumpDetResults).

    Returns:
        The metrics dict, as ``tools/test.py`` prints it.
    """
    from mmengine.evaluator import Evaluator
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    init_default_scope(cfg.get('default_scope', 'mmdet'))
    loader_cfg = copy.deepcopy(cfg.test_dataloader)
    loader = Runner.build_dataloader(loader_cfg)
    metrics = copy.deepcopy(cfg.test_evaluator)
    metrics = metrics if isinstance(metrics, list) else [metrics]
    if out is not None:
        if not out.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--out must be a .pkl file, got {out!r}')
        metrics.append(dict(type='DumpDetResults', out_file_path=out))
    evaluator = Evaluator(metrics)
    evaluator.dataset_meta = loader.dataset.metainfo
    for data in loader:
        samples = []
        for image, sample in zip(data['inputs'], data['data_samples'], strict=True):
            outputs = detector(image[None].float())
            samples.append(result_to_sample(outputs, sample))
        evaluator.process(data_samples=samples, data_batch=data)
    return evaluator.evaluate(len(loader.dataset))
