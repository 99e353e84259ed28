"""Experiment trackers for the visualizer: mmengine's TensorBoard and Weights & Biases
backends work as they are (``TensorboardVisBackend``; ``WandbVisBackend`` with
``init_kwargs=dict(mode='offline')`` needs no account or network); MLflow's needs the
small changes of :class:`LocalMLflowVisBackend` (docs/visualization.md)."""
import os

from mmengine.visualization import MLflowVisBackend

from mmmim.registry import VISBACKENDS

__all__ = ['LocalMLflowVisBackend']


@VISBACKENDS.register_module()
class LocalMLflowVisBackend(MLflowVisBackend):
    """mmengine's ``MLflowVisBackend`` writing to a local file store and logging images.

    * A local file store (``tracking_uri`` None: the run's ``vis_data`` folder, or
      ``'file:<folder>'``) is allowed: MLflow 3 refuses it unless
      ``MLFLOW_ALLOW_FILE_STORE`` is set, which this sets when it is not;
    * images are logged per step under their name (``mlflow.log_image(key=, step=)``:
      ``artifacts/images/<name>+step+<n>+...png``, the UI's image grid); mmengine
      passes the bare name as a file name, which MLflow refuses (no image extension);
    * ``close()`` works without ``add_config`` (the visualizer used outside a runner).

    Args: as ``MLflowVisBackend``.
    """

    def _init_env(self) -> None:
        if self._tracking_uri is None or str(self._tracking_uri).startswith('file:'):
            os.environ.setdefault('MLFLOW_ALLOW_FILE_STORE', 'true')
        super()._init_env()

    def add_image(self, name: str, image, step: int = 0, **kwargs) -> None:
        """Log RGB uint8 ``image`` ``[H, W, 3]`` as image ``name`` at ``step``."""
        self.experiment.log_image(image, key=name, step=step)

    def close(self) -> None:
        if hasattr(self, '_mlflow') and not hasattr(self, 'cfg'):
            self._mlflow.end_run()
            return
        super().close()
