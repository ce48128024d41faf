"""What every request passes before its handler: route normalisation, the key check, fault injection, dispatch."""
from .front import Gateway

__all__ = ["Gateway"]
