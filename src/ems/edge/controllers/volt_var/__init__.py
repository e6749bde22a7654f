"""Volt-var: an inverter's reactive power follows the grid voltage along a Q(U) curve."""

from ems.edge.controllers.volt_var.config import CurvePoint, VoltVarParams
from ems.edge.controllers.volt_var.controller import VoltVar

__all__ = ["CurvePoint", "VoltVar", "VoltVarParams"]
