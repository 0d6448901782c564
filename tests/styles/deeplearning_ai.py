"""Recurrent networks in the style of the deeplearning.ai sequence-models exercises: one sample per
column, sequences (n_x, m, T_x), states (n_a, m), biases (n_a, 1), a separate weight matrix per gate
acting on the concatenation [a_prev; x_t], caches handed from the forward pass to the backward pass,
gradients returned in a dict. Written for this project; the switches plant the bugs the oracle must catch.
"""

import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


# --- the basic RNN ---------------------------------------------------------------------------------

def rnn_cell_forward(xt, a_prev, parameters):
    a_next = np.tanh(parameters["Waa"] @ a_prev + parameters["Wax"] @ xt + parameters["ba"])
    return a_next, (a_next, a_prev, xt, parameters)


def rnn_forward(x, a0, parameters):
    n_x, m, T_x = x.shape
    a = np.zeros((a0.shape[0], m, T_x))
    caches, a_next = [], a0
    for t in range(T_x):
        a_next, cache = rnn_cell_forward(x[:, :, t], a_next, parameters)
        a[:, :, t] = a_next
        caches.append(cache)
    return a, (caches, x)


def rnn_cell_backward(da_next, cache):
    a_next, a_prev, xt, parameters = cache
    dtanh = (1 - a_next ** 2) * da_next
    return {"dxt": parameters["Wax"].T @ dtanh, "da_prev": parameters["Waa"].T @ dtanh,
            "dWax": dtanh @ xt.T, "dWaa": dtanh @ a_prev.T, "dba": np.sum(dtanh, axis=1, keepdims=True)}


def rnn_backward(da, caches):
    caches, x = caches
    n_a, m, T_x = da.shape
    n_x = x.shape[0]
    dx = np.zeros((n_x, m, T_x))
    dWax, dWaa, dba = np.zeros((n_a, n_x)), np.zeros((n_a, n_a)), np.zeros((n_a, 1))
    da_prevt = np.zeros((n_a, m))
    for t in reversed(range(T_x)):
        gradients = rnn_cell_backward(da[:, :, t] + da_prevt, caches[t])
        dx[:, :, t] = gradients["dxt"]
        da_prevt = gradients["da_prev"]
        dWax += gradients["dWax"]
        dWaa += gradients["dWaa"]
        dba += gradients["dba"]
    return {"dx": dx, "da0": da_prevt, "dWax": dWax, "dWaa": dWaa, "dba": dba}


# --- the LSTM ----------------------------------------------------------------------------------------

def lstm_cell_forward(xt, a_prev, c_prev, parameters):
    concat = np.concatenate([a_prev, xt], axis=0)
    ft = sigmoid(parameters["Wf"] @ concat + parameters["bf"])
    it = sigmoid(parameters["Wi"] @ concat + parameters["bi"])
    cct = np.tanh(parameters["Wc"] @ concat + parameters["bc"])
    c_next = ft * c_prev + it * cct
    ot = sigmoid(parameters["Wo"] @ concat + parameters["bo"])
    a_next = ot * np.tanh(c_next)
    return a_next, c_next, (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters)


def lstm_forward(x, a0, parameters):
    """The cell starts from c = 0, as the exercise's forward pass does."""
    n_x, m, T_x = x.shape
    n_a = a0.shape[0]
    a, c = np.zeros((n_a, m, T_x)), np.zeros((n_a, m, T_x))
    a_next, c_next, caches = a0, np.zeros((n_a, m)), []
    for t in range(T_x):
        a_next, c_next, cache = lstm_cell_forward(x[:, :, t], a_next, c_next, parameters)
        a[:, :, t], c[:, :, t] = a_next, c_next
        caches.append(cache)
    return a, c, (caches, x)


def lstm_cell_backward(da_next, dc_next, cache, *, forget_on_cell_path=True, tanh_prime_of_c=True):
    a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters = cache
    n_a = a_next.shape[0]
    tanh_c = np.tanh(c_next)
    dc = dc_next + da_next * ot * ((1 - tanh_c ** 2) if tanh_prime_of_c else 1.0)
    dot = da_next * tanh_c * ot * (1 - ot)
    dcct = dc * it * (1 - cct ** 2)
    dit = dc * cct * it * (1 - it)
    dft = dc * c_prev * ft * (1 - ft)
    concat = np.concatenate([a_prev, xt], axis=0)
    gradients = {"dWf": dft @ concat.T, "dWi": dit @ concat.T, "dWc": dcct @ concat.T, "dWo": dot @ concat.T,
                 "dbf": np.sum(dft, axis=1, keepdims=True), "dbi": np.sum(dit, axis=1, keepdims=True),
                 "dbc": np.sum(dcct, axis=1, keepdims=True), "dbo": np.sum(dot, axis=1, keepdims=True)}
    dconcat = (parameters["Wf"].T @ dft + parameters["Wi"].T @ dit + parameters["Wc"].T @ dcct
               + parameters["Wo"].T @ dot)
    gradients["da_prev"], gradients["dxt"] = dconcat[:n_a], dconcat[n_a:]
    gradients["dc_prev"] = dc * ft if forget_on_cell_path else dc
    return gradients


def lstm_backward(da, caches, *, carry_cell=True, **bugs):
    caches, x = caches
    n_a, m, T_x = da.shape
    n_x = x.shape[0]
    gradients = {"dx": np.zeros((n_x, m, T_x))}
    for gate in "fico":
        gradients[f"dW{gate}"] = np.zeros((n_a, n_a + n_x))
        gradients[f"db{gate}"] = np.zeros((n_a, 1))
    da_prevt, dc_prevt = np.zeros((n_a, m)), np.zeros((n_a, m))
    for t in reversed(range(T_x)):
        step = lstm_cell_backward(da[:, :, t] + da_prevt, dc_prevt, caches[t], **bugs)
        gradients["dx"][:, :, t] = step["dxt"]
        da_prevt = step["da_prev"]
        if carry_cell:
            dc_prevt = step["dc_prev"]
        for name in ("dWf", "dWi", "dWc", "dWo", "dbf", "dbi", "dbc", "dbo"):
            gradients[name] += step[name]
    gradients["da0"] = da_prevt
    return gradients


# --- the L-layer network -----------------------------------------------------------------------------

def l_model_backward(parameters, X, Y):
    """Sigmoid layers over columns X (n_x, m), cost ½‖A − Y‖² averaged over the m examples; the
    gradients dW1, db1, … with db (n, 1), as the course's L-layer model keeps them."""
    L = len(parameters) // 2
    caches, A = [], X
    for l in range(1, L + 1):
        Z = parameters[f"W{l}"] @ A + parameters[f"b{l}"]
        caches.append((A, Z))
        A = sigmoid(Z)
    m = X.shape[1]
    grads, dA = {}, A - Y
    for l in range(L, 0, -1):
        A_prev, Z = caches[l - 1]
        dZ = dA * sigmoid(Z) * (1 - sigmoid(Z))
        grads[f"dW{l}"] = dZ @ A_prev.T / m
        grads[f"db{l}"] = np.sum(dZ, axis=1, keepdims=True) / m
        dA = parameters[f"W{l}"].T @ dZ
    return grads
