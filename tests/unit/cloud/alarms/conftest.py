"""The ``cloud`` fixture: two processes' alarm services on a real Redis."""

from alarm_cloud import cloud

__all__ = ["cloud"]
