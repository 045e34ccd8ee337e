"""Launchers start wsh-nb backends; ``local`` runs them as processes on this machine's loopback."""

from .local import BackendProcess, LaunchError, LocalCluster

__all__ = ["BackendProcess", "LaunchError", "LocalCluster"]
