"""Check statuscast's maintenance.ics as a calendar program sees it.

Usage: python3 check_calendar.py PUBLIC_DIR

The file must use CRLF line ends only and fold lines at 75 octets (RFC 5545 3.1); the Python
`icalendar` package must parse it, and every VEVENT must have a UID, DTSTAMP, UTC DTSTART/DTEND,
SUMMARY, a DESCRIPTION with the event's URL, STATUS and an integer SEQUENCE. Prints the events as
JSON (times in UTC) so the caller can compare them with the maintenance windows.
"""

import datetime
import json
import pathlib
import sys

import icalendar


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def utc(value, what):
    check(isinstance(value, datetime.datetime), f"{what}: {value!r} is not a date-time")
    check(value.tzinfo is not None and value.utcoffset() == datetime.timedelta(0),
          f"{what}: {value!r} is not in UTC")
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def main():
    path = pathlib.Path(sys.argv[1]) / "maintenance.ics"
    raw = path.read_bytes()
    check(raw.endswith(b"\r\n"), "the file does not end with CRLF")
    lines = raw.split(b"\r\n")[:-1]
    for n, line in enumerate(lines, 1):
        check(b"\n" not in line and b"\r" not in line, f"line {n}: bare CR or LF")
        check(len(line) <= 75, f"line {n}: {len(line)} octets (more than 75)")
    folded = sum(1 for line in lines if line.startswith(b" "))

    cal = icalendar.Calendar.from_ical(raw)
    check(str(cal.get("VERSION")) == "2.0", "VERSION is not 2.0")
    check(cal.get("PRODID"), "no PRODID")
    events = []
    uids = set()
    for ev in cal.walk("VEVENT"):
        uid = str(ev.get("UID") or "")
        check(uid and uid not in uids, f"missing or duplicate UID {uid!r}")
        uids.add(uid)
        for key in ("DTSTAMP", "DTSTART", "DTEND", "SUMMARY", "DESCRIPTION", "STATUS", "SEQUENCE", "URL"):
            check(ev.get(key) is not None, f"{uid}: no {key}")
        start = utc(ev.decoded("DTSTART"), f"{uid} DTSTART")
        end = utc(ev.decoded("DTEND"), f"{uid} DTEND")
        utc(ev.decoded("DTSTAMP"), f"{uid} DTSTAMP")
        check(start < end, f"{uid}: DTSTART not before DTEND")
        url = str(ev.get("URL"))
        description = str(ev.get("DESCRIPTION"))
        check(url in description, f"{uid}: DESCRIPTION does not contain the permalink")
        status = str(ev.get("STATUS"))
        check(status in ("CONFIRMED", "CANCELLED"), f"{uid}: STATUS {status}")
        events.append({"uid": uid, "start": start, "end": end, "summary": str(ev.get("SUMMARY")),
                       "description": description, "url": url, "status": status,
                       "sequence": int(ev.get("SEQUENCE"))})
    print(json.dumps({"icalendar": icalendar.__version__, "folded_lines": folded, "events": events},
                     ensure_ascii=False))


if __name__ == "__main__":
    main()
