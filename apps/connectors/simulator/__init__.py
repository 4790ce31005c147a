"""A local stand-in for the vendors' admin, usage and billing APIs."""

from .server import Simulator, generate_admin_keys, running_simulator

__all__ = ["Simulator", "generate_admin_keys", "running_simulator"]
