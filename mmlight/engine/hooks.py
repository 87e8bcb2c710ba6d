"""Training hooks."""

from mmdet.registry import HOOKS
from mmengine.hooks import Hook

from mmlight.models.layers import odconv_temperature, set_odconv_temperature
from mmlight.utils.validators import check_number


@HOOKS.register_module()
class ODConvTemperatureHook(Hook):
    """Anneals the temperature of every ODConv2d linearly from ``start`` to ``end`` over the
    first ``anneal_iters`` iterations (or ``anneal_epochs`` epochs of the train dataloader),
    then holds ``end``, as the official ImageNet training does (30 -> 1; there over 10 epochs).

    The temperature is set before every training iteration from the runner's iteration
    counter, so a resumed run continues where the interrupted one was. It is also logged as
    ``odconv_temperature``. One config line enables it:
    ``custom_hooks = [dict(type='ODConvTemperatureHook', anneal_epochs=1)]``.

    Args:
        anneal_iters (int, optional): Iterations of the annealing.
        anneal_epochs (int | float, optional): The same in epochs (exactly one of the two).
        start (float): Temperature at iteration 0. Default: 30.
        end (float): Temperature after the annealing. Default: 1.
    """

    priority = 'NORMAL'

    def __init__(
        self,
        anneal_iters: int | None = None,
        anneal_epochs: float | None = None,
        start: float = 30.0,
        end: float = 1.0,
    ):
        if (anneal_iters is None) == (anneal_epochs is None):
            raise ValueError(
                'ODConvTemperatureHook needs exactly one of anneal_iters and '
                f'anneal_epochs, got anneal_iters={anneal_iters!r}, '
                f'anneal_epochs={anneal_epochs!r}'
            )
        length = anneal_iters if anneal_iters is not None else anneal_epochs
        check_number('the annealing length', length, greater_than=0, owner='ODConvTemperatureHook')
        if not 0 < end <= start:
            raise ValueError(
                f'ODConvTemperatureHook needs 0 < end <= start, got start={start}, end={end}'
            )
        self.anneal_iters = anneal_iters
        self.anneal_epochs = anneal_epochs
        self.start = float(start)
        self.end = float(end)

    def total_iters(self, runner) -> int:
        if self.anneal_iters is not None:
            return int(self.anneal_iters)
        return max(round(self.anneal_epochs * len(runner.train_dataloader)), 1)

    def temperature_at(self, iteration: int, total: int) -> float:
        return self.end + max(0.0, (self.start - self.end) * (total - iteration) / total)

    def _update(self, runner):
        temperature = self.temperature_at(runner.iter, self.total_iters(runner))
        set_odconv_temperature(runner.model, temperature)
        runner.message_hub.update_scalar('train/odconv_temperature', temperature)

    def before_train(self, runner):
        if odconv_temperature(runner.model) is None:
            raise ValueError(
                'ODConvTemperatureHook is configured but the model has no ODConv2d '
                'layer (e.g. an ODResNet / ODMobileNetV2 backbone with od_cfg set, '
                "or conv_cfg=dict(type='ODConv2d'))"
            )
        self._update(runner)

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self._update(runner)
