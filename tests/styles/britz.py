"""A recurrent language model in the style of Denny Britz's WildML tutorial ("Recurrent Neural
Networks Tutorial", parts 2 and 3): a class holding U (H, K), V (K, H) and W (H, H), no biases,
the state before the first word 0, one sentence per call as a list of word ids, the cross-entropy
summed over the sentence, and bptt(x, y) returning [dLdU, dLdV, dLdW] by BPTT truncated to
``bptt_truncate`` steps: for each output t, the steps max(0, t − bptt_truncate) … t. Written for
this project; the switch plants a bug the oracle must catch."""

import numpy as np


class RNNNumpy:
    def __init__(self, U, V, W, bptt_truncate=4, *, previous_state=True):
        self.U, self.V, self.W = U, V, W
        self.bptt_truncate = bptt_truncate
        self.previous_state = previous_state  # False plants the bug: dLdW takes s[step], not s[step − 1]

    def forward_propagation(self, x):
        T = len(x)
        s = np.zeros((T + 1, self.W.shape[0]))  # s[-1], the last row, is the initial state 0
        o = np.zeros((T, self.V.shape[0]))
        for t in range(T):
            s[t] = np.tanh(self.U[:, x[t]] + self.W.dot(s[t - 1]))
            z = self.V.dot(s[t])
            o[t] = np.exp(z - z.max()) / np.sum(np.exp(z - z.max()))
        return o, s

    def bptt(self, x, y):
        T = len(y)
        o, s = self.forward_propagation(x)
        dLdU, dLdV, dLdW = np.zeros(self.U.shape), np.zeros(self.V.shape), np.zeros(self.W.shape)
        delta_o = o
        delta_o[np.arange(T), y] -= 1.0
        for t in np.arange(T)[::-1]:
            dLdV += np.outer(delta_o[t], s[t].T)
            delta_t = self.V.T.dot(delta_o[t]) * (1 - s[t] ** 2)
            for bptt_step in np.arange(max(0, t - self.bptt_truncate), t + 1)[::-1]:
                dLdW += np.outer(delta_t, s[bptt_step - 1 if self.previous_state else bptt_step])
                dLdU[:, x[bptt_step]] += delta_t
                delta_t = self.W.T.dot(delta_t) * (1 - s[bptt_step - 1] ** 2)
        return [dLdU, dLdV, dLdW]
