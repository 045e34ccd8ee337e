"""Federation: the backends a hub knows, their health, and the clients that talk to them (WIRE.md §4)."""

from .client import BackendClient
from .config import FederationConfig
from .ip_access import IpAccess
from .monitor import Health, HealthSettings
from .registry import BackendEntry, Federation, normalize_address

__all__ = [
    "BackendClient",
    "BackendEntry",
    "Federation",
    "FederationConfig",
    "Health",
    "HealthSettings",
    "IpAccess",
    "normalize_address",
]
