"""PyTorch Lightning training for brevitas_abc models: data modules, the classification module, callbacks, CLI."""
