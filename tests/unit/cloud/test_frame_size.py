"""Frame size limits count UTF-8 bytes, not characters."""

from ems.cloud.frame_size import over_limit


def test_bytes_not_characters() -> None:
    assert not over_limit("x" * 64, 64)
    assert over_limit("x" * 65, 64)
    assert over_limit("€" * 30, 64)  # 30 characters, 90 bytes
    assert not over_limit("€" * 21, 64)  # 63 bytes
    assert over_limit(b"x" * 65, 64)
    assert not over_limit("\ud800" * 16, 64)  # a lone surrogate does not raise
