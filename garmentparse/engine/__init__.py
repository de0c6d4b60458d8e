"""One training engine for every stage (in the style of detectron2's ``engine``).

- :mod:`~garmentparse.engine.loop`: :class:`Trainer` (the loop) and :class:`TrainResult`.
- :mod:`~garmentparse.engine.hooks`: checkpoints, evaluation, early stopping, time budget,
  ``metrics.jsonl`` and progress, as :class:`HookBase` subclasses.
- :mod:`~garmentparse.engine.run`: :class:`RunFolder` (the run directory and its files).
- :mod:`~garmentparse.engine.config`: the ``train:`` config section both stages share.
- :mod:`~garmentparse.engine.distributed`: data-parallel training on several processes (process
  group, global-batch split, shard samplers, DDP, collectives, the ``--nproc`` launcher).
- :mod:`~garmentparse.engine.seeding`, :mod:`~garmentparse.engine.optim`,
  :mod:`~garmentparse.engine.amp`, :mod:`~garmentparse.engine.state`: small helpers.

Nothing is imported here, so reading a config never imports torch.
"""
