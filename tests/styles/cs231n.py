"""Layers in the style of the CS231n assignments: a minibatch as rows (N, D), weights (in, out) used
as x.dot(w), each layer's forward returning (out, cache) and its backward (dout, cache) returning the
gradients; sequences (N, T, D); a fully-connected net whose loss(X, y) takes integer labels and
returns (loss, grads) keyed W1, b1, …; a softmax loss averaged over the minibatch. Written for this
project; the switches plant the bugs the oracle must catch."""

import numpy as np


# --- the fully-connected net ---------------------------------------------------------------------

def affine_forward(x, w, b):
    return x.dot(w) + b, (x, w, b)


def affine_backward(dout, cache):
    x, w, b = cache
    return dout.dot(w.T), x.T.dot(dout), np.sum(dout, axis=0)


def relu_forward(x):
    return np.maximum(0, x), x


def relu_backward(dout, cache):
    return dout * (cache > 0)


def softmax_loss(x, y, *, average=True):
    shifted = x - np.max(x, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    N = x.shape[0]
    loss = -np.sum(log_probs[np.arange(N), y]) / N
    dx = np.exp(log_probs)
    dx[np.arange(N), y] -= 1
    if average:
        dx /= N
    return loss, dx


class FullyConnectedNet:
    """affine - relu - … - affine - softmax, without regularisation."""

    def __init__(self, params, *, average=True):
        self.params = params
        self.num_layers = len(params) // 2
        self.average = average

    def loss(self, X, y):
        caches, out = [], X
        for layer in range(1, self.num_layers):
            out, affine_cache = affine_forward(out, self.params[f"W{layer}"], self.params[f"b{layer}"])
            out, relu_cache = relu_forward(out)
            caches.append((affine_cache, relu_cache))
        L = self.num_layers
        scores, last_cache = affine_forward(out, self.params[f"W{L}"], self.params[f"b{L}"])
        loss, dscores = softmax_loss(scores, y, average=self.average)
        grads = {}
        dout, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dscores, last_cache)
        for layer in range(L - 1, 0, -1):
            affine_cache, relu_cache = caches[layer - 1]
            dout = relu_backward(dout, relu_cache)
            dout, grads[f"W{layer}"], grads[f"b{layer}"] = affine_backward(dout, affine_cache)
        return loss, grads


# --- the vanilla RNN ------------------------------------------------------------------------------

def rnn_step_forward(x, prev_h, Wx, Wh, b, dtype=np.float64):
    next_h = np.tanh(x.dot(Wx) + prev_h.dot(Wh) + b).astype(dtype)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache, *, tanh_prime_in_dx=True):
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h ** 2)
    dx = (da if tanh_prime_in_dx else dnext_h).dot(Wx.T)
    return dx, da.dot(Wh.T), x.T.dot(da), prev_h.T.dot(da), np.sum(da, axis=0)


def rnn_forward(x, h0, Wx, Wh, b, dtype=np.float64):
    """dtype: the precision the steps compute in (the inputs are cast to it)."""
    x, h0, Wx, Wh, b = (np.asarray(v, dtype=dtype) for v in (x, h0, Wx, Wh, b))
    N, T, D = x.shape
    h, cache, prev_h = np.zeros((N, T, h0.shape[1]), dtype=dtype), [], h0
    for t in range(T):
        prev_h, step_cache = rnn_step_forward(x[:, t, :], prev_h, Wx, Wh, b, dtype)
        h[:, t, :] = prev_h
        cache.append(step_cache)
    return h, cache


def rnn_backward(dh, cache, **bugs):
    N, T, H = dh.shape
    x, _, Wx, Wh, _ = cache[0]
    dx = np.zeros((N, T, x.shape[1]))  # float64, whatever the forward pass computed in
    dWx, dWh, db = np.zeros(Wx.shape), np.zeros(Wh.shape), np.zeros(H)
    dprev_h = np.zeros((N, H))
    for t in reversed(range(T)):
        dx[:, t, :], dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t, :] + dprev_h, cache[t], **bugs)
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db


# --- the LSTM ------------------------------------------------------------------------------------

def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b, *, order="ifog"):
    """The gate blocks of a = x Wx + h Wh + b in the order i, f, o, g (``order`` plants a mix-up)."""
    a = x.dot(Wx) + prev_h.dot(Wh) + b
    H = prev_h.shape[1]
    blocks = {gate: a[:, k * H:(k + 1) * H] for k, gate in enumerate(order)}
    i, f, o, g = sigmoid(blocks["i"]), sigmoid(blocks["f"]), sigmoid(blocks["o"]), np.tanh(blocks["g"])
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c, order)


def lstm_step_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c, order = cache
    tanh_c = np.tanh(next_c)
    dnext_c = dnext_c + dnext_h * o * (1 - tanh_c ** 2)
    gates = {"i": dnext_c * g * i * (1 - i), "f": dnext_c * prev_c * f * (1 - f),
             "o": dnext_h * tanh_c * o * (1 - o), "g": dnext_c * i * (1 - g ** 2)}
    da = np.concatenate([gates[gate] for gate in order], axis=1)
    return da.dot(Wx.T), da.dot(Wh.T), dnext_c * f, x.T.dot(da), prev_h.T.dot(da), np.sum(da, axis=0)


def lstm_forward(x, h0, Wx, Wh, b, **options):
    """The cell starts from c = 0, as the assignment's forward pass does."""
    N, T, D = x.shape
    h, cache = np.zeros((N, T, h0.shape[1])), []
    prev_h, prev_c = h0, np.zeros_like(h0)
    for t in range(T):
        prev_h, prev_c, step_cache = lstm_step_forward(x[:, t, :], prev_h, prev_c, Wx, Wh, b, **options)
        h[:, t, :] = prev_h
        cache.append(step_cache)
    return h, cache


def lstm_backward(dh, cache):
    N, T, H = dh.shape
    x, _, _, Wx, Wh, *_ = cache[0]
    dx = np.zeros((N, T, x.shape[1]))
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(4 * H)
    dprev_h, dprev_c = np.zeros((N, H)), np.zeros((N, H))
    for t in reversed(range(T)):
        dx[:, t, :], dprev_h, dprev_c, dWx_t, dWh_t, db_t = lstm_step_backward(dh[:, t, :] + dprev_h, dprev_c,
                                                                               cache[t])
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db
