#!/usr/bin/python3
"""manifest: writes a capture's ground truth (OUT.json) in the shared captures' format.

Joins what make_capture.sh recorded while capturing: the scenario's expectation for each visit
(expect.tsv), what each client saw (clients.jsonl: client.py's JSON lines, or make_capture's
lines for curl), and what the servers logged (sessions.jsonl from bokeh_server.py
--session-log). The session id of a page load comes from the server log, like the shared
manifests; the client's own parse of the token must agree when it has one.

Checks that each client did what the scenario meant it to do (expect.tsv's `what` pattern) and
exits 1 with the reason otherwise, so a broken run never yields a wrong ground truth.
"""
import argparse
import fnmatch
import json
import os
import sys


def read_jsonl(path):
    out = []
    if not os.path.exists(path):
        return out
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                out.append(json.loads(line))
    return out


def read_expect(path):
    """visit \t outcome \t cause \t what-pattern \t client_kind \t instance"""
    rows = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            visit, outcome, cause, what, kind, instance = line.rstrip("\n").split("\t")
            rows[int(visit)] = {
                "outcome": outcome,
                "cause": None if cause in ("", "null", "-") else cause,
                "what": what,
                "kind": kind,
                "instance": instance,
            }
    return rows


def summarize_client(c):
    parts = ["client: what=%s" % c.get("what")]
    if c.get("page_status") is not None:
        parts.append("page %s (%d bytes%s) on port %s" % (
            c["page_status"], c.get("page_bytes", 0),
            "" if c.get("page_complete") else ", incomplete", c.get("client_port")))
    elif c.get("client_port"):
        parts.append("page: no response received on port %s" % c["client_port"])
    scripts = c.get("scripts") or []
    if scripts:
        parts.append("scripts: " + ", ".join(
            "%s %s%s%s port %s" % (
                s.get("name"), s.get("status"), " %dB" % s["bytes"] if "bytes" in s else "",
                " STALLED" if s.get("stalled") else ("" if s.get("complete") else " incomplete"),
                s.get("port"))
            for s in scripts))
    ws = c.get("ws") or {}
    if ws.get("attempted"):
        parts.append("websocket %s on port %s: status %s ack %s doc %s patch %s close client %s "
                     "server %s messages %s" % (
                         ws.get("url"), ws.get("port"), ws.get("status"), ws.get("ack"),
                         ws.get("doc"), ws.get("patch_sent"), ws.get("client_close"),
                         ws.get("server_close"), ws.get("messages")))
    if c.get("error"):
        parts.append("error %s" % c["error"])
    return "; ".join(parts)


def summarize_server(sid, events):
    mine = [e for e in events if e.get("session_id") == sid]
    names = []
    for e in mine:
        n = "%s@%s" % (e["event"], e.get("server"))
        if e["event"] == "ws_closed":
            n += "(code=%s)" % e.get("code")
        if e["event"] == "ws_patch_doc" and e.get("document_ready"):
            n += "(document_ready)"
        names.append(n)
    return "server log: " + (", ".join(names) if names else "nothing for this session")


def build(args):
    expect = read_expect(args.expect)
    clients = {c["visit"]: c for c in read_jsonl(args.clients) if c.get("visit") is not None}
    events = read_jsonl(args.sessions)
    created = {}
    for e in events:
        if e.get("event") == "session_created" and e.get("visit") is not None:
            created.setdefault((e.get("server"), int(e["visit"])), e)
    problems = []
    loads = []
    for visit in sorted(expect):
        exp = expect[visit]
        c = clients.get(visit)
        if c is None:
            problems.append("visit %d: no client record" % visit)
            continue
        if not any(fnmatch.fnmatchcase(str(c.get("what")), pat) for pat in exp["what"].split("|")):
            problems.append("visit %d: client did %r, the scenario wanted %r (%s)" % (
                visit, c.get("what"), exp["what"], c.get("error")))
        srv = created.get((exp["instance"], visit))
        sid = srv["session_id"] if srv else None
        if sid is None:
            problems.append("visit %d: no session_created on server %s" % (visit, exp["instance"]))
        if c.get("session_id") and sid and c["session_id"] != sid:
            problems.append("visit %d: client token says %s, server log %s" % (
                visit, c["session_id"], sid))
        outcome, cause = exp["outcome"], exp["cause"]
        if outcome == "auto":  # black hole on a fraction of connections: decided by the result
            outcome, cause = ("connected", None) if c.get("rendered") else ("orphan", cause)
        loads.append({
            "visit": visit,
            "client": c.get("client") or (args.client_v6 if "[" in (c.get("url") or "") else args.client_v4),
            "client_kind": exp["kind"],
            "cache": c.get("cache", "cold"),
            "url": c.get("url"),
            "started_at": c.get("started_at"),
            "session_id": sid,
            "rendered": bool(c.get("rendered")),
            "websocket_opened": bool(c.get("websocket_opened")),
            "expected_outcome": outcome,
            "expected_cause": cause,
            "client_port": c.get("client_port"),
            "ws_port": (c.get("ws") or {}).get("port"),
            "server": exp["instance"],
            "notes": summarize_client(c) + ". " + summarize_server(sid, events),
        })
    return loads, problems, events


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--scenario", required=True)
    p.add_argument("--description", required=True)
    p.add_argument("--pcap", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--expect", required=True)
    p.add_argument("--clients", required=True)
    p.add_argument("--sessions", required=True)
    p.add_argument("--server-args", required=True)
    p.add_argument("--port", type=int, default=5006)
    p.add_argument("--tsfwd-flags", default="")
    p.add_argument("--mtu-probing", type=int, default=0)
    p.add_argument("--vnet", type=int, default=0)
    p.add_argument("--tail", type=float, default=20)
    p.add_argument("--client-v4", default="100.64.0.2")
    p.add_argument("--client-v6", default="fd7a:115c:a1e0::2")
    p.add_argument("--midstream", action="store_true")
    p.add_argument("--capture-stats", default="")
    a = p.parse_args()
    loads, problems, events = build(a)
    versions = {e.get("bokeh_version") for e in events if e.get("event") == "server_start"}
    instances = [{"name": e.get("server"), "port": e.get("port"), "pid": e.get("pid"),
                  "static_root": e.get("static_root"), "origins": e.get("origins")}
                 for e in events if e.get("event") == "server_start"]
    doc = {
        "capture": os.path.basename(a.pcap),
        "description": a.description + (" Capture: %s." % a.capture_stats if a.capture_stats else ""),
        "link_type": "RAW",
        "generator": "tests/harness/make_capture.sh %s (bokeh_server.py + client.py, "
                     "tail %g s)" % (a.scenario, a.tail),
        "server": {
            "ipv4": "100.64.0.1",
            "ipv6": "fd7a:115c:a1e0::1",
            "port": a.port,
            "bokeh_version": sorted(v for v in versions if v)[0] if versions else None,
            "args": a.server_args,
            "instances": instances,
        },
        "network": {
            "tsfwd_flags": a.tsfwd_flags,
            "server_tcp_mtu_probing": a.mtu_probing,
            "vnet": bool(a.vnet),
            "mtu": 1280,
        },
        "page_loads": [] if a.midstream else loads,
    }
    if a.midstream:
        doc["websockets_midstream"] = [
            {k: l[k] for k in ("visit", "client", "ws_port", "url", "session_id", "server")}
            | {"notes": l["notes"]}
            for l in loads
        ]
    with open(a.out + ".tmp", "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(a.out + ".tmp", a.out)
    for pr in problems:
        print("manifest: %s" % pr, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
