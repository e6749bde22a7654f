"""The record contract checks live in the package: rewrite their asserts to show values."""

import pytest

pytest.register_assert_rewrite("support.conformance.records")
