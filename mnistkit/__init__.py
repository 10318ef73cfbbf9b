"""mnistkit: train, compare and look inside small MNIST models.

Importing the package is cheap: TensorFlow is only imported by the modules that need it
(models, training, predict, activations), so the app's first page renders fast.
"""

__version__ = "0.1.0"
