"""A dense network in the style of Nielsen's network.py (Neural Networks and Deep Learning, ch. 1–2):
a Network object holding biases (n, 1) and weights (n_out, n_in), and backprop(x, y) for ONE sample
given as column vectors, returning (nabla_b, nabla_w) in that order. Written for this project; the
switches plant bugs the oracle must catch."""

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    return sigmoid(z) * (1 - sigmoid(z))


class Network:
    def __init__(self, weights, biases, *, output_prime=True, hidden_prime=True):
        self.weights, self.biases = weights, biases
        self.num_layers = len(weights) + 1
        self.output_prime, self.hidden_prime = output_prime, hidden_prime

    def cost_derivative(self, output_activations, y):
        return output_activations - y

    def backprop(self, x, y):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        activation, activations, zs = x, [x], []
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        delta = self.cost_derivative(activations[-1], y)
        if self.output_prime:
            delta = delta * sigmoid_prime(zs[-1])
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for layer in range(2, self.num_layers):
            z = zs[-layer]
            delta = np.dot(self.weights[-layer + 1].transpose(), delta)
            if self.hidden_prime or layer != self.num_layers - 1:  # the first hidden layer's σ′
                delta = delta * sigmoid_prime(z)
            nabla_b[-layer] = delta
            nabla_w[-layer] = np.dot(delta, activations[-layer - 1].transpose())
        return (nabla_b, nabla_w)
