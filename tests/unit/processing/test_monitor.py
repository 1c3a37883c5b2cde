import datetime as dt

from kassagate.processing.monitor import needs_rotation

NOW = dt.datetime(2026, 11, 23, 12, 0, 0)
BEFORE = dt.timedelta(minutes=10)


def info(opened: dt.datetime | None, auto: bool = False) -> dict[str, object]:
    return {
        "autoShift": auto,
        "isShiftOpen": "true" if opened else "false",
        "shiftOpenAt": opened.strftime("%Y-%m-%d %H:%M:%S") if opened else "",
    }


def test_device_mode_shift_is_rotated_ten_minutes_before_24_hours() -> None:
    assert not needs_rotation(info(NOW - dt.timedelta(hours=23, minutes=49)), NOW, BEFORE)
    assert needs_rotation(info(NOW - dt.timedelta(hours=23, minutes=50)), NOW, BEFORE)
    assert needs_rotation(info(NOW - dt.timedelta(hours=30)), NOW, BEFORE)


def test_cloud_mode_and_closed_shifts_are_left_alone() -> None:
    assert not needs_rotation(info(NOW - dt.timedelta(hours=30), auto=True), NOW, BEFORE)
    assert not needs_rotation(info(None), NOW, BEFORE)
    assert not needs_rotation({"isShiftOpen": "true", "shiftOpenAt": "garbage"}, NOW, BEFORE)
