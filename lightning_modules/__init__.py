"""PyTorch Lightning training for brevitas_abc models: data modules, the classification module, callbacks, CLI.

    from lightning_modules import ClassificationModule, LatentWeightClipping, MNISTDataModule, build_model
    module = ClassificationModule(build_model("lfc", abc={"num_weight_bases": 3, "num_act_bases": 3}))
    pl.Trainer(max_epochs=10, callbacks=[LatentWeightClipping()]).fit(module, MNISTDataModule())

Command line: ``abc-train fit --config lightning_modules/configs/lfc_abc_mnist.yaml``.

The names below are imported on first use, so ``import lightning_modules.data`` (e.g. ``load_mnist`` in
other packages' tests) does not pull in Lightning callbacks, the model zoo or the CLI.
"""
import importlib

_EXPORTS = {
    "ClassificationModule": "lightning_modules.module",
    "build_model": "lightning_modules.models", "available_architectures": "lightning_modules.models",
    "ExportBestToQONNX": "lightning_modules.callbacks", "LatentWeightClipping": "lightning_modules.callbacks",
    "QuantStatsLogger": "lightning_modules.callbacks",
    "CIFAR10DataModule": "lightning_modules.data", "DatasetUnavailableError": "lightning_modules.data",
    "FashionMNISTDataModule": "lightning_modules.data", "ImageFolderDataModule": "lightning_modules.data",
    "MNISTDataModule": "lightning_modules.data",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'lightning_modules' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
