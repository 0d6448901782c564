"""The former home of the catalogue's theorem modules, kept so that their paths still import.

Each family's theorems are now in its package, ``gradproofs.families.<family>``
(``theorems.py``, and for the dense networks ``initialisation_theorems.py``,
for clipping ``tamed.py``); ``gradproofs.catalogue`` imports them all.
``gradproofs.theorems.rnn``, ``.dense``, ``.tamed`` and the others are those
modules themselves (:mod:`gradproofs._aliases`).
"""

__all__: list = []
