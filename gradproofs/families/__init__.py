"""One package per family of networks, each holding the family whole.

A family's package holds its engines (``engine.py``: the gradients over
float64, mpmath, torch and, where installed, JAX and TensorFlow), its
theorems (``theorems.py``, registered in :mod:`gradproofs.catalogue` and
rendered as ``derivations/<family>.md``), its Hypothesis strategies
(``strategies.py``, all offered by :mod:`gradproofs.strategies`) and its
oracle (``oracle.py``, which checks other people's code; all offered by
:mod:`gradproofs.oracle`):

- ``activations``: the activation functions with their derived derivatives and bounds
  (``engine.py``), the costs and the output error they start (``costs.py``), and
  the activation theorems. No strategies or oracle of its own.
- ``chain``: one neuron per layer (Nielsen ch. 5): the product form of
  backpropagation, the vanishing bound and the exploding window.
- ``mlp``: dense networks (multilayer perceptrons): the backward recurrence and
  the speed of learning (``engine.py``), weight initialisations and synthetic
  data (``initialisation.py``), residual blocks (``residual.py``), and the
  theorems of both (``theorems.py``; the statistical ones of the initialisations,
  ``initialisation_theorems.py``).
- ``rnn``: the Elman RNN and the LSTM: backpropagation through time (``engine.py``),
  Pascanu et al.'s single-unit cliff (``cliff.py``) and their theorems.
- ``lm``: a character-level RNN language model: its BPTT, its training with and
  without clipping, and its theorems.
- ``clipping``: gradient clipping by value, norm and global norm in each
  framework's convention (``engine.py``), what the frameworks were observed to
  do (``observations.py``), its theorems, and the cliff tamed by clipping
  (``tamed.py``).

The families' strategies share their building blocks (argument checks, bounded
and seeded arrays, sizes, matrices) in :mod:`gradproofs.families.drawing`. What
else the families share stays beside them in :mod:`gradproofs`: the catalogue,
the judging of engines (``compare``, ``formats``, ``extended``), devices and
frameworks, the oracles' harness, rendering, reports and the command line.
"""

__all__: list = []
