"""storegate gateway: the store box's daemon, money, journal and sync."""

__version__ = "0.1.0"
