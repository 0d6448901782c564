"""A scalar autograd engine and an MLP in the style of micrograd: each Value holds data, grad and a
closure that pushes its grad to its children; backward() visits the graph in reverse topological
order. Neurons hold one weight per input and a bias; the last layer is linear; a layer of one neuron
returns that neuron's Value rather than a list, as micrograd's does, so the next layer (or the loss)
cannot iterate over it: the engine takes no layer of width 1. Written for this project; the switch
plants the classic bug of assigning a gradient instead of accumulating it."""

import math


class Value:
    accumulate = True  # False plants `=` for `+=` in the product's backward closure

    def __init__(self, data, children=()):
        self.data, self.grad = float(data), 0.0
        self._backward = lambda: None
        self._prev = dict.fromkeys(children)  # ordered: the same graph is always visited in the same order

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other))

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other))

        def _backward():
            if Value.accumulate:
                self.grad += other.data * out.grad
                other.grad += self.data * out.grad
            else:
                self.grad = other.data * out.grad
                other.grad = self.data * out.grad
        out._backward = _backward
        return out

    def __pow__(self, exponent):
        out = Value(self.data ** exponent, (self,))

        def _backward():
            self.grad += exponent * self.data ** (exponent - 1) * out.grad
        out._backward = _backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,))

        def _backward():
            self.grad += (1 - t ** 2) * out.grad
        out._backward = _backward
        return out

    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-other)

    __radd__ = __add__
    __rmul__ = __mul__

    def backward(self):
        topo, visited = [], set()

        def build(v):
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build(child)
                topo.append(v)
        build(self)
        self.grad = 1.0
        for v in reversed(topo):
            v._backward()


class Neuron:
    def __init__(self, w, b, nonlin=True):
        self.w, self.b, self.nonlin = [Value(v) for v in w], Value(b), nonlin

    def __call__(self, x):
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return act.tanh() if self.nonlin else act


class Layer:
    def __init__(self, W, b, nonlin=True):
        self.neurons = [Neuron(row, bias, nonlin) for row, bias in zip(W, b)]

    def __call__(self, x):
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out


class MLP:
    """tanh layers, a linear last layer."""

    def __init__(self, weights, biases):
        self.layers = [Layer(W, b, nonlin=k < len(weights) - 1) for k, (W, b) in enumerate(zip(weights, biases))]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def squared_error(model, xs, ys):
    """½ Σ over samples and outputs of (out − y)²: summed over the batch, as the demos sum it."""
    return sum((((out - y) ** 2) * 0.5 for x, target in zip(xs, ys)
                for out, y in zip(model(list(x)), target)), Value(0.0))
