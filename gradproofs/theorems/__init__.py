"""The catalogue's theorems, one module per family (see ``gradproofs.catalogue``)."""
