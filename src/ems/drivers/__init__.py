"""Drivers: the code that talks to real devices over their own protocols."""
