"""The in-kernel hub: a loop thread running an AsyncHub, its sync/async facade, DataFrames and screens.

Imports here are cheap on purpose (no pandas until a facade module is imported); use ``wsh_nb.Hub`` and
``wsh_nb.get_hub()``.
"""
