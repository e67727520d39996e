"""Check statuscast's feeds as a feed reader sees them.

Usage: python3 check_feeds.py PUBLIC_DIR BASE_URL

Every feed.atom / feed.rss (the page's and each component's) must parse in feedparser without a
bozo error, be Atom 1.0 / RSS 2.0, use absolute URLs, unique ids, RFC 3339 (Atom) and RFC 822 (RSS)
dates, list entries newest first, and the Atom and RSS twins must carry the same entries.
sitemap.xml must be well-formed with absolute locations. Prints a JSON summary on success; exits
non-zero with a message on the first problem.
"""

import json
import pathlib
import re
import sys
import xml.etree.ElementTree as ET

import feedparser

ATOM = "{http://www.w3.org/2005/Atom}"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
RFC822 = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d\d:\d\d:\d\d ([+-]\d{4}|GMT|UT)$"
)


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def raw_checks(path, kind, base):
    """Dates and URLs as written, before feedparser normalises them."""
    root = ET.parse(path).getroot()
    if kind == "atom":
        for el in root.iter():
            if el.tag in (ATOM + "updated", ATOM + "published"):
                check(RFC3339.match(el.text or ""), f"{path}: {el.tag} {el.text!r} is not RFC 3339")
            if el.tag == ATOM + "id":
                check((el.text or "").startswith(base), f"{path}: id {el.text!r} is not an absolute URL of the site")
            if "href" in el.attrib:
                check(el.attrib["href"].startswith(base), f"{path}: href {el.attrib['href']!r} is not absolute")
    else:
        channel = root.find("channel")
        check(channel is not None, f"{path}: no channel")
        for el in channel.iter():
            if el.tag in ("pubDate", "lastBuildDate"):
                check(RFC822.match(el.text or ""), f"{path}: {el.tag} {el.text!r} is not RFC 822")
            if el.tag in ("link", "guid"):
                check((el.text or "").startswith(base), f"{path}: {el.tag} {el.text!r} is not absolute")
            if "href" in el.attrib:
                check(el.attrib["href"].startswith(base), f"{path}: href {el.attrib['href']!r} is not absolute")


def parse(path, kind, base):
    data = path.read_bytes()
    d = feedparser.parse(data)
    check(not d.bozo, f"{path}: feedparser bozo: {d.get('bozo_exception')!r}")
    check(d.version == ("atom10" if kind == "atom" else "rss20"), f"{path}: version {d.version!r}")
    check(d.feed.get("title"), f"{path}: no title")
    check(d.feed.get("link", "").startswith(base), f"{path}: feed link {d.feed.get('link')!r}")
    check(d.feed.get("updated_parsed") is not None, f"{path}: no parsable updated/lastBuildDate")
    raw_checks(path, kind, base)
    ids, titles, times = [], [], []
    for e in d.entries:
        check(e.get("id"), f"{path}: entry without id")
        check(e.get("link", "").startswith(base + "/incidents/"), f"{path}: entry link {e.get('link')!r}")
        check(e.get("title"), f"{path}: entry {e.id} without title")
        check(e.get("published_parsed") is not None, f"{path}: entry {e.id} without parsable date")
        body = e.get("content", [{}])[0].get("value") if kind == "atom" else e.get("summary")
        check(body and body.strip(), f"{path}: entry {e.id} without content")
        ids.append(e.id)
        titles.append(e.title)
        times.append(tuple(e.published_parsed))
    check(len(set(ids)) == len(ids), f"{path}: duplicate entry ids")
    check(times == sorted(times, reverse=True), f"{path}: entries not newest first")
    return {"version": d.version, "title": d.feed.title, "ids": ids, "titles": titles,
            "first_content": (d.entries[0].get("content", [{}])[0].get("value") if kind == "atom"
                              else d.entries[0].get("summary")) if d.entries else None}


def main():
    public, base = pathlib.Path(sys.argv[1]), sys.argv[2].rstrip("/")
    feeds = {}
    dirs = [public] + sorted(p for p in (public / "components").iterdir() if p.is_dir())
    for d in dirs:
        atom = parse(d / "feed.atom", "atom", base)
        rss = parse(d / "feed.rss", "rss", base)
        rel = str(d.relative_to(public)).replace("\\", "/")
        check(atom["ids"] == rss["ids"], f"{rel}: Atom and RSS entries differ")
        check(atom["titles"] == rss["titles"], f"{rel}: Atom and RSS titles differ")
        feeds["" if rel == "." else rel + "/"] = {"atom": atom, "rss": rss}
    sitemap = ET.parse(public / "sitemap.xml").getroot()
    locs = [el.text for el in sitemap.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    check(locs and all(l.startswith(base + "/") for l in locs), "sitemap: locations must be absolute")
    print(json.dumps({"feedparser": feedparser.__version__, "feeds": feeds, "sitemap": locs},
                     ensure_ascii=False))


if __name__ == "__main__":
    main()
