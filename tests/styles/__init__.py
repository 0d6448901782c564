"""Gradient code written here in the styles of well-known public implementations (not copied from
them), to show that the oracle meets each where it is, with declared conventions only."""
