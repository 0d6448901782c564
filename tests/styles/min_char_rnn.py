"""A character-level RNN language model's loss and gradients in the style of min-char-rnn's lossFun:
one sequence per call as a list of integer ids, column-vector states and biases, a dict of states
per step, the summed cross-entropy, every gradient clipped to [−5, 5] before it is returned, and the
tuple (loss, dWxh, dWhh, dWhy, dbh, dby, last state). Written for this project; the switches plant the
bugs the oracle must catch."""

import numpy as np


def lossFun(inputs, targets, hprev, Wxh, Whh, Why, bh, by, *, target_minus_one=True, alias_state=False,
            tanh_prime_of_previous=False, carry=True, dWhy_from_previous=False, clip=("dWxh", "dWhh", "dWhy", "dbh", "dby")):
    vocab_size = Wxh.shape[1]
    xs, hs, ys, ps = {}, {}, {}, {}
    hs[-1] = np.copy(hprev)
    state = hs[-1]
    loss = 0
    for t in range(len(inputs)):
        xs[t] = np.zeros((vocab_size, 1))
        xs[t][inputs[t]] = 1
        if alias_state:  # one array updated in place: every entry of hs is the last state
            state[:] = np.tanh(Wxh @ xs[t] + Whh @ state + bh)
            hs[t] = state
        else:
            hs[t] = np.tanh(Wxh @ xs[t] + Whh @ hs[t - 1] + bh)
        ys[t] = Why @ hs[t] + by
        ps[t] = np.exp(ys[t] - np.max(ys[t])) / np.sum(np.exp(ys[t] - np.max(ys[t])))
        loss += -np.log(ps[t][targets[t], 0])
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dhnext = np.zeros_like(hs[0])
    for t in reversed(range(len(inputs))):
        dy = np.copy(ps[t])
        if target_minus_one:
            dy[targets[t]] -= 1
        dWhy += dy @ (hs[t - 1] if dWhy_from_previous else hs[t]).T
        dby += dy
        dh = Why.T @ dy + (dhnext if carry else 0)
        dhraw = (1 - hs[t - 1 if tanh_prime_of_previous else t] ** 2) * dh
        dbh += dhraw
        dWxh += dhraw @ xs[t].T
        dWhh += dhraw @ hs[t - 1].T
        dhnext = Whh.T @ dhraw
    gradients = {"dWxh": dWxh, "dWhh": dWhh, "dWhy": dWhy, "dbh": dbh, "dby": dby}
    for name in clip:
        np.clip(gradients[name], -5, 5, out=gradients[name])
    return loss, dWxh, dWhh, dWhy, dbh, dby, hs[len(inputs) - 1]
