"""A dense network in the style of ML-From-Scratch's deep-learning layers: Dense layers holding W
(n_in, n_out) and a bias row w0 (1, n_out), applied as X.dot(W) + w0 to a batch of rows; sigmoid
Activation layers; the square loss ½(y − ŷ)² summed over the batch; each layer's backward pass
taking the gradient from above and returning the one for the layer below. Written for this project;
the switch plants a bug the oracle must catch."""

import numpy as np


class Dense:
    def __init__(self, W, w0):
        self.W, self.w0 = W, w0

    def forward_pass(self, X):
        self.layer_input = X
        return X.dot(self.W) + self.w0

    def backward_pass(self, accum_grad):
        self.grad_W = self.layer_input.T.dot(accum_grad)
        self.grad_w0 = np.sum(accum_grad, axis=0, keepdims=True)
        return accum_grad.dot(self.W.T)


class Sigmoid:
    def __init__(self, *, derivative=True):
        self.derivative = derivative  # False plants the bug: the layer passes its gradient on unchanged

    def forward_pass(self, X):
        self.output = 1 / (1 + np.exp(-X))
        return self.output

    def backward_pass(self, accum_grad):
        return accum_grad * self.output * (1 - self.output) if self.derivative else accum_grad


def gradients(weights, biases, X, y, *, broken_layer=None):
    """(grad_W per Dense layer, grad_w0 per Dense layer) of the summed square loss."""
    layers = []
    for index, (W, w0) in enumerate(zip(weights, biases)):
        layers += [Dense(W, w0), Sigmoid(derivative=index != broken_layer)]
    out = X
    for layer in layers:
        out = layer.forward_pass(out)
    accum_grad = -(y - out)
    for layer in reversed(layers):
        accum_grad = layer.backward_pass(accum_grad)
    dense = [layer for layer in layers if isinstance(layer, Dense)]
    return [layer.grad_W for layer in dense], [layer.grad_w0 for layer in dense]
