"""Lithium-ion cell physics shared by the cell-level simulator and the SOC estimators.

Equivalent-circuit model (ECM): open-circuit voltage as a function of SOC and
temperature, a series resistance and two RC pairs, all scaled from one cell to
a pack of ``series_cells`` cells in series. Signs: current > 0 discharging.
"""

from ems.cells.chemistry import CHEMISTRIES, Chemistry, chemistry
from ems.cells.ecm import EcmState, PackModel

__all__ = ["CHEMISTRIES", "Chemistry", "EcmState", "PackModel", "chemistry"]
