"""A spec traced to a graph of ATen operations, evaluated and differentiated with gradproofs' own rules.

:func:`trace` runs ``spec`` once, on float64 tensors of the given shapes, under a torch dispatch
mode that records each ATen operation the spec reaches (below autograd, so ``F.layer_norm``
arrives as ``aten.native_layer_norm``). An operation with a rule in
:mod:`gradproofs.oracle.rules` becomes a node; one without is replaced by torch's
decomposition of its forward (the core ATen decompositions first), recursively; one with
neither is an error naming it and the spec's line. Tensors the spec makes without its inputs
are constants. The graph records what was computed from what, and nothing of torch's values:
:func:`evaluate` computes every node with the rules' forwards in an arithmetic of the
caller's choice, and :func:`gradients` runs their VJPs backwards from a cotangent of the
result (reverse-mode accumulation, Griewank & Walther, *Evaluating Derivatives*, ch. 3).
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass, field

import numpy as np

from gradproofs.errors import InvalidArgument
from gradproofs.oracle.rules import RULES, reduce_to, tensor

__all__ = ["Value", "Constant", "Node", "Graph", "trace", "evaluate", "output", "gradients"]


@dataclass(frozen=True)
class Value:
    """A node's result (``output`` is its place in a tuple of results, None for a single one)."""

    node: int
    output: int | None = None


@dataclass(frozen=True, eq=False)
class Constant:
    """A tensor the spec made without its inputs: its entries (float, integer or bool)."""

    values: np.ndarray


@dataclass(frozen=True)
class Node:
    """One operation: its rule's name (``"input"`` for an input), its arguments by their ATen names
    (tensors as :class:`Value` or :class:`Constant`), and where the spec asked for it."""

    operation: str
    arguments: dict
    line: str | None = None


@dataclass
class Graph:
    """A traced spec: its input names, nodes in the order computed, the result's :class:`Value` and shape."""

    inputs: tuple
    nodes: list = field(default_factory=list)
    result: Value | None = None
    shape: tuple = ()  # the result's shape, as traced

    def operations(self) -> list:
        """The distinct operations, in the order first computed."""
        return list(dict.fromkeys(node.operation for node in self.nodes if node.operation != "input"))


def _spec_line(frame) -> str | None:
    """The innermost caller outside torch and gradproofs: ``file.py:12``."""
    import torch

    skipped = (os.path.dirname(torch.__file__), os.path.dirname(os.path.dirname(__file__)))
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(skipped) and not filename.startswith("<frozen"):
            return f"{os.path.basename(filename)}:{frame.f_lineno}"
        frame = frame.f_back
    return None


def _decomposition(operation):
    """torch's decomposition of ``operation``'s forward (core ATen first, then a composite operation's
    own kernel), or None."""
    import torch
    from torch._decomp import core_aten_decompositions, decomposition_table

    found = core_aten_decompositions().get(operation) or decomposition_table.get(operation)
    if found is None and torch._C._dispatch_has_kernel_for_dispatch_key(operation.name(),
                                                                        "CompositeImplicitAutograd"):
        return operation.decompose
    return found


_VIEWS = frozenset({"aten.view.default", "aten._unsafe_view.default", "aten.permute.default", "aten.transpose.int",
                    "aten.t.default", "aten.expand.default", "aten.unsqueeze.default", "aten.squeeze.dim",
                    "aten.squeeze.dims", "aten.squeeze.default", "aten.slice.Tensor", "aten.select.int",
                    "aten.alias.default"})


# In-place operations whose functional form is not named by dropping the underscore.
_FUNCTIONAL = {"aten.transpose_.default": "aten.transpose.int", "aten.unsqueeze_.default": "aten.unsqueeze.default",
               "aten.squeeze_.dim": "aten.squeeze.dim"}


# Operations whose only writes are to running statistics, never part of a result.
_UPDATES_RUNNING_STATISTICS = frozenset({"aten.native_batch_norm.default"})


def _recorder(graph: Graph):
    """The dispatch mode that records ``graph`` (a class made here, so that torch loads only on tracing)."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_flatten

    class Recorder(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.known, self.alive, self.viewed, self.decomposing = {}, [], set(), []

        def add(self, tensor, value: Value) -> None:
            self.known[id(tensor)] = value
            self.alive.append(tensor)  # an id stays this tensor's while the trace lasts

        def argument(self, value):
            if isinstance(value, torch.Tensor):
                if id(value) in self.known:
                    return self.known[id(value)]
                return Constant(value.detach().cpu().double().numpy().copy() if value.is_floating_point()
                                else value.detach().cpu().numpy().copy())
            if isinstance(value, (list, tuple)) and any(isinstance(v, torch.Tensor) for v in value):
                return [self.argument(v) for v in value]
            return value

        def __torch_dispatch__(self, operation, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            name = str(operation)
            tensors = [a for a in tree_flatten((args, kwargs))[0] if isinstance(a, torch.Tensor)]
            if not any(id(t) in self.known for t in tensors):
                return operation(*args, **kwargs)  # a constant
            line = _spec_line(sys._getframe(1))
            mutated = operation._schema.is_mutable and name not in _UPDATES_RUNNING_STATISTICS
            functional = _FUNCTIONAL.get(name, name.replace("_.", ".", 1)) if mutated else name
            if functional in RULES and (not mutated or functional != name):
                target = args[0] if mutated else None
                if mutated and (id(target) not in self.known or graph.nodes[self.known[id(target)].node].operation
                                == "input" or id(target) in self.viewed or target._base is not None):
                    raise InvalidArgument(f"spec: {name} at {line} modifies an input or a view in place; "
                                          "write it without the trailing underscore")
                names = [argument.name for argument in operation._schema.arguments]
                arguments = {**dict(zip(names, args)), **kwargs}
                node = Node(functional, {key: self.argument(v) for key, v in arguments.items()}, line)
                result = operation(*args, **kwargs)
                index = len(graph.nodes)
                graph.nodes.append(node)
                if isinstance(result, (tuple, list)):
                    for place, part in enumerate(result):
                        if isinstance(part, torch.Tensor):
                            self.add(part, Value(index, place))
                else:
                    self.add(result, Value(index))
                if name in _VIEWS:
                    self.viewed.update(id(t) for t in tensors)
                return result
            decomposition = _decomposition(operation)
            if decomposition is None:
                called = self.decomposing[0] if self.decomposing else name
                within = f" (nor for {name}, in torch's decomposition of it)" if self.decomposing else ""
                raise InvalidArgument(f"spec: {called} at {line or 'an unknown line'} is not supported: gradproofs "
                                      f"has no rule for it{within}")
            self.decomposing.append(name)
            try:
                with self:
                    return decomposition(*args, **kwargs)
            finally:
                self.decomposing.pop()

    return Recorder()


@contextlib.contextmanager
def _without_onednn():
    """torch with oneDNN off, as it was before afterwards."""
    import torch

    enabled = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = enabled


def trace(spec, shapes: dict, values: dict | None = None, dtype: str = "float64") -> Graph:
    """``spec`` traced on tensors of ``shapes`` (name -> shape, in spec's argument order) and ``dtype``,
    the precision it is judged at: what the spec computes may depend on it (``F.rms_norm``'s default ε is
    its dtype's machine epsilon), and the graph records the constants of that dtype. They are filled
    with ``values`` where given (integer arrays stay integer: indices, labels), else with 0.5 (a value
    every supported operation accepts: positive, below 1). oneDNN is off while it runs, so that torch's
    recurrent layers reach their decompositions in every dtype (in float32 torch calls oneDNN's fused
    ``mkldnn_rnn_layer``, which has none)."""
    import torch

    values = values or {}
    graph = Graph(inputs=tuple(shapes))
    recorder = _recorder(graph)
    tensors = []
    for name, shape in shapes.items():
        given = np.asarray(values[name]) if name in values else np.full(tuple(shape), 0.5)
        tensor = torch.from_numpy(given.astype(np.float64) if given.dtype.kind == "f" else given.copy())
        tensor = tensor.to(getattr(torch, dtype)) if tensor.is_floating_point() else tensor
        tensors.append(tensor)
        recorder.add(tensor, Value(len(graph.nodes)))  # integer ones too: indices and labels are inputs
        graph.nodes.append(Node("input", {"name": name}))
    with _without_onednn(), recorder:
        result = spec(*tensors)
    if not isinstance(result, torch.Tensor) or id(result) not in recorder.known:
        raise InvalidArgument(f"spec must return a tensor computed from its float inputs; it returned {result!r}")
    graph.result, graph.shape = recorder.known[id(result)], tuple(result.shape)
    return graph


def _resolve(argument, values: list, A):
    """An argument's value: a node's result, a constant in ``A``'s arithmetic (floats) or as it is."""
    if isinstance(argument, Value):
        value = values[argument.node]
        return value if argument.output is None else value[argument.output]
    if isinstance(argument, Constant):
        return A.array(argument.values) if argument.values.dtype.kind == "f" else argument.values
    if isinstance(argument, list):
        return [_resolve(a, values, A) for a in argument]
    return argument


def evaluate(graph: Graph, A, inputs: dict) -> list:
    """Every node's result, computed with the rules' forwards in arithmetic ``A`` from ``inputs``
    (name -> array; float ones as given in ``A``'s numbers, integer ones as integers)."""
    values = []
    for node in graph.nodes:
        if node.operation == "input":
            given = np.asarray(inputs[node.arguments["name"]])
            values.append(A.array(given) if given.dtype.kind == "f" or given.dtype == object else given)
            continue
        arguments = {key: _resolve(v, values, A) for key, v in node.arguments.items()}
        values.append(RULES[node.operation].forward(A, **arguments))
    return values


def _integral(value) -> bool:
    """Whether a value holds integers or booleans (indices, labels, masks), which have no cotangent."""
    dtype = value.dtype if hasattr(value, "dtype") else np.asarray(value).dtype
    return dtype.kind in "biu"


def output(graph: Graph, values: list):
    """The spec's result among ``values`` (what :func:`evaluate` returned)."""
    return _resolve(graph.result, values, None)


def _accumulate(cotangents: dict, argument, g, values: list) -> None:
    """Add ``g`` to the cotangent of ``argument`` (a :class:`Value`, or a list of them), summed back to its shape."""
    if isinstance(argument, list):
        for a, piece in zip(argument, g):
            _accumulate(cotangents, a, piece, values)
        return
    if not isinstance(argument, Value) or g is None:
        return
    target = values[argument.node] if argument.output is None else values[argument.node][argument.output]
    if _integral(target):
        return
    g = reduce_to(g, np.shape(target))
    key = (argument.node, argument.output)
    cotangents[key] = g if key not in cotangents else cotangents[key] + g


def gradients(graph: Graph, A, values: list, cotangent) -> dict:
    """The cotangent of every float input (name -> array), for ``cotangent`` of the result: the VJPs
    run from the last node to the first, each node's result cotangents summed over its uses."""
    cotangents = {(graph.result.node, graph.result.output): A.array(cotangent)}
    found = {}
    for index in range(len(graph.nodes) - 1, -1, -1):
        node, y = graph.nodes[index], values[index]
        if node.operation == "input":
            if not _integral(y):
                found[node.arguments["name"]] = cotangents.get((index, None), 0 * y)
            continue
        if isinstance(y, tuple):
            if not any((index, place) in cotangents for place in range(len(y))):
                continue
            g = tuple(cotangents.get((index, place), 0 * tensor(part)) for place, part in enumerate(y))
        elif (index, None) in cotangents:
            g = cotangents[(index, None)]
        else:
            continue
        rule = RULES[node.operation]
        if rule.vjp is None:
            continue
        arguments = {key: _resolve(v, values, A) for key, v in node.arguments.items()}
        for key, g_argument in rule.vjp(A, g, y, **arguments).items():
            _accumulate(cotangents, node.arguments.get(key), g_argument, values)
    return {name: found[name] for name in graph.inputs if name in found}
