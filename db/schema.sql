-- orphanwatch capture database schema. The one place the schema is written down.
-- Version: bump OW_SCHEMA_VERSION (user_version below) on any change to tables, columns or
-- what they mean; readers refuse others. An added index, or an added table every reader can
-- do without (capture_files), needs no bump: readers work without it and a file gains it when
-- next written (the schema runs IF NOT EXISTS on every open to write).
-- Times are epoch seconds (REAL, UTC). Addresses are text (IPv6 in RFC 5952 form).
-- Text repeated across many rows is stored once: a "*_ref" column holds the id of its row in
-- sessions (session_ref) or user_agents (ua_ref); join to read the text.
-- "dir" columns: 0 = client to server, 1 = server to client.
PRAGMA user_version = 3;

-- @table captures: one row per capture run (a file read or a live session).
CREATE TABLE IF NOT EXISTS captures (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,          -- file path or interface name
    live INTEGER NOT NULL,         -- 1 for live capture
    filter TEXT,                   -- BPF filter used
    server_ports TEXT,             -- comma list of server ports analysed
    started REAL,                  -- first packet time
    ended REAL,                    -- last packet time
    end_reason TEXT,               -- running, eof, signal, error, killed (never finished; readers show a running row whose writer is gone as killed)
    packets INTEGER, bytes INTEGER,
    kernel_drops INTEGER, if_drops INTEGER,
    linktypes TEXT,                -- pcap link types seen, comma list of names
    grace REAL,                    -- grace time in seconds used for orphans
    store_secrets INTEGER NOT NULL DEFAULT 0, -- 1 when cookie/auth/token values were kept
    counters TEXT,                 -- JSON object: every skip and limit counter
    tool_version TEXT
);

-- @table connections: one row per TCP connection, with its transport health.
CREATE TABLE IF NOT EXISTS connections (
    id INTEGER PRIMARY KEY,
    capture_id INTEGER NOT NULL REFERENCES captures(id),
    client TEXT NOT NULL, client_port INTEGER NOT NULL,
    server TEXT NOT NULL, server_port INTEGER NOT NULL,
    family INTEGER NOT NULL,       -- 4 or 6
    first_ts REAL, last_ts REAL,
    syn_seen INTEGER,              -- 0: picked up mid-stream
    close TEXT,                    -- open, fin, rst, timeout, end (capture ended)
    kind TEXT,                     -- http, websocket, tls (encrypted: not decoded), other
    bytes_c2s INTEGER, bytes_s2c INTEGER,          -- stream bytes delivered
    gaps_c2s INTEGER, gaps_s2c INTEGER, gap_bytes_c2s INTEGER, gap_bytes_s2c INTEGER,
    requests INTEGER,
    syn_count INTEGER, rtt REAL, max_idle REAL,
    mss_c INTEGER, mss_s INTEGER, wscale_c INTEGER, wscale_s INTEGER,
    max_seg_c2s INTEGER, max_seg_s2c INTEGER,
    max_seg_acked_s2c INTEGER, max_seg_lost_s2c INTEGER, lost_retrans_s2c INTEGER,
    retrans_c2s INTEGER, retrans_s2c INTEGER, retrans_bytes_c2s INTEGER, retrans_bytes_s2c INTEGER,
    rto_s2c INTEGER,               -- retransmission timeouts, server to client
    rto_series_s2c TEXT,           -- JSON array of seconds between timeouts (NULL: none)
    longest_stall_s2c REAL, stall_start_s2c REAL,
    recovered_smaller_s2c INTEGER, seg_after_recovery_s2c INTEGER,
    dup_acks_c2s INTEGER, dup_acks_s2c INTEGER, sack_blocks INTEGER,
    zero_windows_c2s INTEGER, zero_windows_s2c INTEGER, window_full_s2c INTEGER,
    max_in_flight_s2c INTEGER, unacked_s2c INTEGER,
    fin_c2s REAL, fin_s2c REAL, rst_c2s REAL, rst_s2c REAL -- time of each, NULL if none
);

-- @table http_exchanges: one row per HTTP request and its response.
CREATE TABLE IF NOT EXISTS http_exchanges (
    id INTEGER PRIMARY KEY,
    connection_id INTEGER NOT NULL REFERENCES connections(id),
    seq INTEGER NOT NULL,          -- 0-based request number on the connection
    kind TEXT,                     -- page, static, websocket, autoload, favicon, other
    req_ts REAL, method TEXT, target TEXT,
    host TEXT,                     -- NULL when the row belongs to a page load with the same Host
    ua_ref INTEGER REFERENCES user_agents(id), -- User-Agent; NULL when the row belongs to a
                                   -- page load with the same one
    referer TEXT,                  -- NULL when it names the page this fetch belongs to
    origin TEXT,
    req_body_bytes INTEGER,
    resp_ts REAL,                  -- first byte of the response head
    resp_end_ts REAL,              -- last byte of the response body
    status INTEGER, reason TEXT, content_type TEXT, content_length INTEGER,
    content_encoding TEXT,
    resp_body_bytes INTEGER,
    complete INTEGER,              -- response body complete
    last_byte_acked INTEGER,       -- the client acknowledged the response's last byte (NULL unknown)
    page_load_id INTEGER           -- the page this fetch belongs to (page, statics, websocket);
                                   -- its session: page_loads.session_ref, websockets.session_ref
);

-- @table websockets: one row per websocket upgrade attempt (101 or refused).
CREATE TABLE IF NOT EXISTS websockets (
    id INTEGER PRIMARY KEY,
    connection_id INTEGER NOT NULL REFERENCES connections(id),
    http_id INTEGER REFERENCES http_exchanges(id),
    page_load_id INTEGER,
    session_ref INTEGER REFERENCES sessions(id), -- the session the websocket carries
    upgrade_ts REAL, status INTEGER, reason TEXT,
    origin TEXT, path TEXT,
    subprotocol_ok INTEGER,        -- 101 carried Sec-WebSocket-Protocol: bokeh
    token_expiry INTEGER,          -- session_expiry from the token (epoch s)
    deflate INTEGER,
    frames_c2s INTEGER, frames_s2c INTEGER, bytes_c2s INTEGER, bytes_s2c INTEGER,
    messages_c2s INTEGER, messages_s2c INTEGER,
    msg_counts TEXT,               -- JSON object msgtype -> count, both directions
    opcode_counts TEXT,            -- JSON object websocket opcode -> frames, both directions
    ack_ts REAL, pull_doc_ts REAL, -- first ACK, first PULL-DOC-REPLY
    client_patch_docs INTEGER,
    pings INTEGER, pongs INTEGER,
    close_code_c2s INTEGER, close_code_s2c INTEGER, close_reason TEXT,
    close_ts REAL, end_ts REAL,
    midstream INTEGER,             -- picked up without its upgrade
    errors INTEGER
);

-- @table bokeh_messages: Bokeh messages, the first of each type and direction per websocket.
-- At most --max-bokeh-messages (8) per websocket; websockets.msg_counts counts them all.
CREATE TABLE IF NOT EXISTS bokeh_messages (
    id INTEGER NOT NULL,           -- unique; rows are stored by (websocket_id, id), no rowid
    websocket_id INTEGER NOT NULL REFERENCES websockets(id),
    ts REAL, dir INTEGER,
    msgtype TEXT, msgid TEXT,
    reply_to INTEGER,              -- id of the stored message whose msgid is this one's reqid
    reqid TEXT,                    -- the header's reqid when it names no stored message
    size INTEGER, num_buffers INTEGER,
    PRIMARY KEY (websocket_id, id)
) WITHOUT ROWID;

-- @table page_loads: one row per served page that created a Bokeh session.
CREATE TABLE IF NOT EXISTS page_loads (
    id INTEGER PRIMARY KEY,
    capture_id INTEGER NOT NULL REFERENCES captures(id),
    http_id INTEGER REFERENCES http_exchanges(id),
    connection_id INTEGER REFERENCES connections(id),
    session_ref INTEGER REFERENCES sessions(id), -- the session the page created
    client TEXT, client_port INTEGER, server TEXT, server_port INTEGER,
    host TEXT, path TEXT, app TEXT,
    ua_ref INTEGER REFERENCES user_agents(id), -- the request's User-Agent
    started REAL,                  -- page request time
    status INTEGER, resp_bytes INTEGER,
    ttfb REAL, ttlb REAL,          -- seconds from request to first / last response byte
    token_expiry INTEGER,
    static_count INTEGER, static_bytes INTEGER, static_failed INTEGER,
    websockets INTEGER,            -- websocket upgrades carrying this session
    first_ws_ts REAL,
    outcome TEXT NOT NULL,         -- pending, connected, ws_refused, ws_no_doc, orphan, undecided
    verdict TEXT,                  -- NULL when healthy; see README "Verdicts"
    confidence REAL,               -- 0..1
    summary TEXT,                  -- one line: the verdict in words
    advice TEXT,
    decided_ts REAL,               -- when the outcome was decided: the packet that told it, or
                                   -- the end of the grace time (orphan; ws_no_doc by time)
    resource TEXT                  -- target (without query) of the first evidence row tied to an
                                   -- HTTP exchange; NULL when none (kept by the triggers below)
);

-- @table evidence: the wire facts a verdict rests on, in order.
CREATE TABLE IF NOT EXISTS evidence (
    page_load_id INTEGER NOT NULL REFERENCES page_loads(id),
    seq INTEGER NOT NULL,
    connection_id INTEGER, http_id INTEGER,
    text TEXT NOT NULL,
    PRIMARY KEY (page_load_id, seq)
);

-- @table sessions: one row per Bokeh session id seen (from a page, a websocket or both).
-- Rows are written by upsert on session_id, so a row keeps its id (other tables refer to it).
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL UNIQUE, -- the Bokeh session id
    first_ts REAL, last_ts REAL,   -- NULL until the correlator has written the session
    page_loads INTEGER, websockets INTEGER,
    token_expiry INTEGER,
    outcome TEXT                   -- outcome of its latest page load, or 'websocket_only'
);

-- @table user_agents: each distinct User-Agent header, stored once.
CREATE TABLE IF NOT EXISTS user_agents (
    id INTEGER PRIMARY KEY,
    user_agent TEXT NOT NULL UNIQUE
);

-- @table packet_files: with --keep-packets, one row per kept pcap file (export reads them).
CREATE TABLE IF NOT EXISTS packet_files (
    capture_id INTEGER NOT NULL REFERENCES captures(id), -- the capture that kept it
    file TEXT NOT NULL,            -- absolute path of the pcap
    first_ts REAL, last_ts REAL,   -- its first and last packet
    packets INTEGER,               -- packets it holds (server-port TCP, link-layer framing)
    dropped INTEGER NOT NULL DEFAULT 0, -- 1: deleted to stay within --keep-packets-size
    PRIMARY KEY (capture_id, file)
);

-- @table capture_files: one row per file a `read` took, in reading order, written when the
-- read ends (none for a read that was killed, nor from before schema 3 had this table: export
-- then reads every file up to the page load). Export opens only the files whose times hold a
-- page load's packets, even when files overlap.
CREATE TABLE IF NOT EXISTS capture_files (
    capture_id INTEGER NOT NULL REFERENCES captures(id), -- the read
    seq INTEGER NOT NULL,          -- its place in reading order, from 0 (its line in captures.source)
    file TEXT NOT NULL,            -- as in captures.source (absolute; '-' for standard input)
    first_ts REAL, last_ts REAL,   -- its first packet and its latest packet read
    packets INTEGER,               -- packets read from it (those the BPF filter kept)
    PRIMARY KEY (capture_id, seq)
);

-- Rollups: page-load counts kept by the triggers below on every write (INSERT, INSERT OR
-- REPLACE with recursive_triggers off, the default; UPDATE; DELETE), so the summary queries
-- and the dashboard need not scan page_loads. A NULL key is stored as x'' (a key column may
-- not be NULL); readers decode it with NULLIF(col, x'').

-- @table rollup_outcomes: page loads per app, outcome and verdict.
CREATE TABLE IF NOT EXISTS rollup_outcomes (
    app, outcome, verdict,         -- as in page_loads (verdict x'' when none)
    n INTEGER NOT NULL,            -- page loads
    PRIMARY KEY (app, outcome, verdict)
) WITHOUT ROWID;

-- @table rollup_clients: page loads per client.
CREATE TABLE IF NOT EXISTS rollup_clients (
    client PRIMARY KEY,            -- as in page_loads
    n INTEGER NOT NULL,            -- page loads
    orphans INTEGER NOT NULL,      -- of which outcome orphan
    first REAL, last REAL          -- first and last started (a replaced row keeps its started)
) WITHOUT ROWID;

-- @table rollup_verdicts: page loads with a verdict per client, verdict and resource.
CREATE TABLE IF NOT EXISTS rollup_verdicts (
    client, verdict,
    resource,                      -- page_loads.resource, else the page path without query
    n INTEGER NOT NULL,            -- page loads
    PRIMARY KEY (client, verdict, resource)
) WITHOUT ROWID;

-- the verdicts query's order: its first rows without a sort
CREATE INDEX IF NOT EXISTS rollup_verdicts_n ON rollup_verdicts(n DESC, verdict, client, NULLIF(resource, x''));

-- @table rollup_minutes: page loads per minute of started (the dashboard's sparklines).
CREATE TABLE IF NOT EXISTS rollup_minutes (
    minute INTEGER PRIMARY KEY,    -- CAST(started / 60 AS INTEGER)
    n INTEGER NOT NULL,            -- page loads
    orphans INTEGER NOT NULL       -- of which outcome orphan
);

CREATE INDEX IF NOT EXISTS page_loads_started ON page_loads(started);
CREATE INDEX IF NOT EXISTS page_loads_outcome ON page_loads(outcome, started);
CREATE INDEX IF NOT EXISTS page_loads_client ON page_loads(client, started);
CREATE INDEX IF NOT EXISTS page_loads_session ON page_loads(session_ref);
CREATE INDEX IF NOT EXISTS page_loads_verdict ON page_loads(verdict, started);
CREATE INDEX IF NOT EXISTS page_loads_app ON page_loads(app, started);
-- the dashboard's sort by duration (ui/dashboard_data.c DUR_EXPR, the same expression)
CREATE INDEX IF NOT EXISTS page_loads_duration ON page_loads(COALESCE(first_ws_ts - started, ttlb, -1.0));
CREATE INDEX IF NOT EXISTS sessions_first ON sessions(first_ts);
CREATE INDEX IF NOT EXISTS http_page ON http_exchanges(page_load_id);
CREATE INDEX IF NOT EXISTS http_conn ON http_exchanges(connection_id);
CREATE INDEX IF NOT EXISTS ws_page ON websockets(page_load_id);
CREATE INDEX IF NOT EXISTS ws_session ON websockets(session_ref);
CREATE INDEX IF NOT EXISTS conn_client ON connections(client);
-- the page loads whose evidence names an exchange (http_exchanges_insert)
CREATE INDEX IF NOT EXISTS evidence_http ON evidence(http_id);

-- @view evidence_resources: per evidence row tied to an HTTP exchange, the exchange's target
-- without its query string (page_loads.resource is the first of a page's, by seq).
CREATE VIEW IF NOT EXISTS evidence_resources AS
    SELECT e.page_load_id, e.seq,
           substr(h.target, 1, min(instr(h.target || '?', '?'), instr(h.target || '#', '#')) - 1)
               AS resource
    FROM evidence e JOIN http_exchanges h ON h.id = e.http_id;

-- @table rollup_changes: always empty. Each row written is one page load entering (sign 1) or
-- leaving (sign -1) the rollups; its trigger adds it to every rollup and deletes it. The one
-- place where the rollups' keys and counts are defined.
CREATE TABLE IF NOT EXISTS rollup_changes (
    sign INTEGER NOT NULL,         -- 1 or -1
    app, client, outcome, verdict, path, resource, started -- the page load's values
);
CREATE TRIGGER IF NOT EXISTS rollup_changes_apply AFTER INSERT ON rollup_changes BEGIN
    INSERT INTO rollup_outcomes VALUES (COALESCE(NEW.app, x''), NEW.outcome,
        COALESCE(NEW.verdict, x''), NEW.sign) ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO rollup_clients VALUES (COALESCE(NEW.client, x''), NEW.sign,
        NEW.sign * (NEW.outcome = 'orphan'), iif(NEW.sign > 0, NEW.started, NULL),
        iif(NEW.sign > 0, NEW.started, NULL)) ON CONFLICT DO UPDATE SET n = n + excluded.n,
        orphans = orphans + excluded.orphans,
        first = CASE WHEN first <= excluded.first OR excluded.first IS NULL THEN first
                ELSE excluded.first END,
        last = CASE WHEN last >= excluded.last OR excluded.last IS NULL THEN last
               ELSE excluded.last END;
    INSERT INTO rollup_verdicts SELECT COALESCE(NEW.client, x''), NEW.verdict,
        COALESCE(NEW.resource, substr(NEW.path, 1, min(instr(NEW.path || '?', '?'), instr(NEW.path || '#', '#')) - 1), x''),
        NEW.sign WHERE NEW.verdict IS NOT NULL ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO rollup_minutes SELECT CAST(NEW.started / 60 AS INTEGER), NEW.sign,
        NEW.sign * (NEW.outcome = 'orphan') WHERE NEW.started IS NOT NULL
        ON CONFLICT DO UPDATE SET n = n + excluded.n, orphans = orphans + excluded.orphans;
    DELETE FROM rollup_outcomes WHERE NEW.sign < 0 AND n <= 0 AND app = COALESCE(NEW.app, x'')
        AND outcome = NEW.outcome AND verdict = COALESCE(NEW.verdict, x'');
    DELETE FROM rollup_clients WHERE NEW.sign < 0 AND n <= 0 AND client = COALESCE(NEW.client, x'');
    DELETE FROM rollup_verdicts WHERE NEW.sign < 0 AND n <= 0 AND client = COALESCE(NEW.client, x'')
        AND verdict = NEW.verdict AND resource = COALESCE(NEW.resource,
            substr(NEW.path, 1, min(instr(NEW.path || '?', '?'), instr(NEW.path || '#', '#')) - 1), x'');
    DELETE FROM rollup_minutes WHERE NEW.sign < 0 AND n <= 0
        AND minute = CAST(NEW.started / 60 AS INTEGER);
    DELETE FROM rollup_changes WHERE rowid = NEW.rowid;
END;

-- @table resource_refresh: always empty. A page load id written here has its
-- page_loads.resource set again from its evidence (the first row tied to an HTTP exchange);
-- the row deletes itself. The one place that sets page_loads.resource.
CREATE TABLE IF NOT EXISTS resource_refresh (
    page_load_id INTEGER           -- the page load to look at again
);
CREATE TRIGGER IF NOT EXISTS resource_refresh_apply AFTER INSERT ON resource_refresh BEGIN
    UPDATE page_loads SET resource = (SELECT resource FROM evidence_resources
        WHERE page_load_id = NEW.page_load_id ORDER BY seq LIMIT 1)
    WHERE id = NEW.page_load_id AND resource IS NOT (SELECT resource FROM evidence_resources
        WHERE page_load_id = NEW.page_load_id ORDER BY seq LIMIT 1);
    DELETE FROM resource_refresh WHERE rowid = NEW.rowid;
END;

-- Triggers keeping the rollups and page_loads.resource. INSERT OR REPLACE deletes the row it
-- replaces without firing DELETE triggers (recursive_triggers off), so page_loads_replace
-- takes that row out first; an explicit DELETE goes through page_loads_delete.
CREATE TRIGGER IF NOT EXISTS page_loads_replace BEFORE INSERT ON page_loads
WHEN EXISTS (SELECT 1 FROM page_loads WHERE id = NEW.id) BEGIN
    INSERT INTO rollup_changes SELECT -1, app, client, outcome, verdict, path, resource, started
        FROM page_loads WHERE id = NEW.id;
END;
CREATE TRIGGER IF NOT EXISTS page_loads_insert AFTER INSERT ON page_loads BEGIN
    INSERT INTO rollup_changes VALUES (1, NEW.app, NEW.client, NEW.outcome, NEW.verdict, NEW.path,
        NEW.resource, NEW.started);
    -- the writer inserts resource NULL: nothing to set again unless evidence names an exchange
    INSERT INTO resource_refresh SELECT NEW.id WHERE NEW.resource IS NOT NULL OR EXISTS (
        SELECT 1 FROM evidence WHERE page_load_id = NEW.id AND http_id IS NOT NULL);
END;
CREATE TRIGGER IF NOT EXISTS page_loads_update
AFTER UPDATE OF client, app, outcome, verdict, resource, path, started ON page_loads BEGIN
    INSERT INTO rollup_changes VALUES (-1, OLD.app, OLD.client, OLD.outcome, OLD.verdict, OLD.path,
        OLD.resource, OLD.started);
    INSERT INTO rollup_changes VALUES (1, NEW.app, NEW.client, NEW.outcome, NEW.verdict, NEW.path,
        NEW.resource, NEW.started);
END;
CREATE TRIGGER IF NOT EXISTS page_loads_delete AFTER DELETE ON page_loads BEGIN
    INSERT INTO rollup_changes VALUES (-1, OLD.app, OLD.client, OLD.outcome, OLD.verdict, OLD.path,
        OLD.resource, OLD.started);
END;
-- (no WHEN: INSERT OR REPLACE may have replaced a row tied to an exchange)
CREATE TRIGGER IF NOT EXISTS evidence_insert AFTER INSERT ON evidence BEGIN
    INSERT INTO resource_refresh VALUES (NEW.page_load_id);
END;
CREATE TRIGGER IF NOT EXISTS evidence_delete AFTER DELETE ON evidence
WHEN OLD.http_id IS NOT NULL BEGIN
    INSERT INTO resource_refresh VALUES (OLD.page_load_id);
END;
CREATE TRIGGER IF NOT EXISTS evidence_update AFTER UPDATE OF page_load_id, seq, http_id ON evidence BEGIN
    INSERT INTO resource_refresh VALUES (OLD.page_load_id);
    INSERT INTO resource_refresh VALUES (NEW.page_load_id);
END;
-- An exchange written after the evidence naming it (a stalled script ends after the verdict):
-- the page loads whose evidence names it, whatever page the exchange belongs to. (A file written
-- by an earlier orphanwatch keeps its trigger, which refreshes the page of every exchange.)
CREATE TRIGGER IF NOT EXISTS http_exchanges_insert AFTER INSERT ON http_exchanges
WHEN EXISTS (SELECT 1 FROM evidence WHERE http_id = NEW.id) BEGIN
    INSERT INTO resource_refresh SELECT DISTINCT page_load_id FROM evidence WHERE http_id = NEW.id;
END;

-- @view page_loads_with_text: page_loads with its session_id and user_agent text joined back.
CREATE VIEW IF NOT EXISTS page_loads_with_text AS
    SELECT p.*, s.session_id, u.user_agent FROM page_loads p
    LEFT JOIN sessions s ON s.id = p.session_ref LEFT JOIN user_agents u ON u.id = p.ua_ref;
-- @view orphans: page loads whose session never got a websocket.
CREATE VIEW IF NOT EXISTS orphans AS
    SELECT * FROM page_loads_with_text WHERE outcome = 'orphan' ORDER BY started;
-- @view failed_page_loads: every page load that did not end connected and healthy.
CREATE VIEW IF NOT EXISTS failed_page_loads AS
    SELECT * FROM page_loads_with_text WHERE outcome <> 'connected' OR verdict IS NOT NULL
    ORDER BY started;
-- @view client_summary: per client address, page loads, orphans, orphan rate.
CREATE VIEW IF NOT EXISTS client_summary AS
    SELECT client, COUNT(*) AS page_loads,
           SUM(outcome = 'orphan') AS orphans,
           ROUND(1.0 * SUM(outcome = 'orphan') / COUNT(*), 3) AS orphan_rate,
           SUM(verdict IS NOT NULL) AS with_verdict
    FROM page_loads GROUP BY client;
