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


class RNN:
    """A recurrent layer in the same style: U (units, inputs), W (units, units) and an output projection
    V (outputs, units), no biases, a zero initial state kept in the last slot of ``states`` (so that
    index t − 1 = −1 reads it), batch-first sequences (N, T, ·), and a backward pass that carries each
    step's gradient back at most ``bptt_trunc`` steps. ``stale_output``: ∂L/∂V pairs ∂L/∂y_t with the
    state before, the planted bug."""

    def __init__(self, U, W, V, *, bptt_trunc=5, stale_output=False):
        self.U, self.W, self.V, self.bptt_trunc, self.stale_output = U, W, V, bptt_trunc, stale_output

    def forward_pass(self, X):
        self.layer_input = X
        batch, steps, _ = X.shape
        self.state_input = np.zeros((batch, steps, self.W.shape[0]))
        self.states = np.zeros((batch, steps + 1, self.W.shape[0]))
        outputs = np.zeros((batch, steps, self.V.shape[0]))
        for t in range(steps):
            self.state_input[:, t] = X[:, t].dot(self.U.T) + self.states[:, t - 1].dot(self.W.T)
            self.states[:, t] = np.tanh(self.state_input[:, t])
            outputs[:, t] = self.states[:, t].dot(self.V.T)
        return outputs

    def backward_pass(self, accum_grad):
        self.grad_U, self.grad_W, self.grad_V = (np.zeros_like(self.U), np.zeros_like(self.W),
                                                 np.zeros_like(self.V))
        for t in reversed(range(accum_grad.shape[1])):
            self.grad_V += accum_grad[:, t].T.dot(self.states[:, t - 1 if self.stale_output else t])
            grad_state = accum_grad[:, t].dot(self.V) * (1 - self.states[:, t] ** 2)
            for back in reversed(range(max(0, t - self.bptt_trunc), t + 1)):
                self.grad_U += grad_state.T.dot(self.layer_input[:, back])
                self.grad_W += grad_state.T.dot(self.states[:, back - 1])
                grad_state = grad_state.dot(self.W) * (1 - self.states[:, back - 1] ** 2)
