"""Time series read from CSV files (replay devices, price files), validated once."""

from ems.timeseries.csvfile import read_csv_series, resolve_path
from ems.timeseries.series import Series

__all__ = ["Series", "read_csv_series", "resolve_path"]
