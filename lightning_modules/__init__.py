"""PyTorch Lightning training for brevitas_abc models: data modules, the classification module, callbacks, CLI.

    from lightning_modules import ClassificationModule, MNISTDataModule, build_model
    module = ClassificationModule(build_model("lfc", abc={"num_weight_bases": 3, "num_act_bases": 3}))
    pl.Trainer(max_epochs=10, callbacks=[LatentWeightClipping()]).fit(module, MNISTDataModule())

Command line: ``abc-train fit --config lightning_modules/configs/lfc_abc_mnist.yaml``.
"""
from lightning_modules.callbacks import ExportBestToQONNX, LatentWeightClipping, QuantStatsLogger
from lightning_modules.data import (CIFAR10DataModule, DatasetUnavailableError, FashionMNISTDataModule,
                                    ImageFolderDataModule, MNISTDataModule)
from lightning_modules.models import available_architectures, build_model
from lightning_modules.module import ClassificationModule

__all__ = ["CIFAR10DataModule", "ClassificationModule", "DatasetUnavailableError", "ExportBestToQONNX",
           "FashionMNISTDataModule", "ImageFolderDataModule", "LatentWeightClipping", "MNISTDataModule",
           "QuantStatsLogger", "available_architectures", "build_model"]
