/// The status page served at `/`: one self-contained HTML document (inline CSS and JS, nothing
/// loaded from anywhere) that polls `api/stats` on its own origin once a second.
///
/// Stable hooks for tests and scripts: `#status[data-state]` (`connecting`, `live`, `error`) with
/// `data-polls` (successful polls so far); summary numbers `#total-depth`, `#total-in-flight`,
/// `#put-rate`, `#ack-rate`, `#client-count`, `#auth-failures`, `#memory-used` (with
/// `#memory-limit`), `#uptime`; one
/// `#queues tr[data-queue]` per queue and one `#clients tr[data-client-id]` per client, whose
/// cells carry `data-field` (the JSON field or rate name) and `data-value` (the raw number);
/// `#js-errors` collects script errors (empty when there were none).
///
/// Data from the daemon (queue names, client names, addresses) is only ever put into the page as
/// text (`textContent`), never as markup.
enum StatusPage {
    static let html = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>TaskMaster</title>
        <style>
        :root {
          --bg: #f5f6f8; --panel: #fff; --text: #1d2330; --muted: #687086; --line: #e3e6ec;
          --accent: #2563eb; --green: #16a34a; --amber: #d97706; --red: #dc2626; --violet: #7c3aed;
        }
        @media (prefers-color-scheme: dark) {
          :root {
            --bg: #12151b; --panel: #1b1f27; --text: #e6e8ee; --muted: #98a0b3; --line: #2b313d;
            --accent: #60a5fa; --green: #4ade80; --amber: #fbbf24; --red: #f87171; --violet: #a78bfa;
          }
        }
        * { box-sizing: border-box; }
        body {
          margin: 0; background: var(--bg); color: var(--text);
          font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
        }
        header {
          display: flex; align-items: baseline; gap: 16px; flex-wrap: wrap;
          padding: 14px 24px; background: var(--panel); border-bottom: 1px solid var(--line);
        }
        h1 { font-size: 18px; margin: 0; letter-spacing: .2px; }
        h2 { font-size: 14px; margin: 0 0 10px; color: var(--muted); font-weight: 600; }
        .meta { color: var(--muted); }
        .status { display: inline-flex; align-items: center; gap: 6px; color: var(--muted); }
        .status::before {
          content: ""; width: 9px; height: 9px; border-radius: 50%; background: var(--muted);
        }
        .status[data-state="live"]::before { background: var(--green); }
        .status[data-state="error"]::before { background: var(--red); }
        main { padding: 18px 24px 32px; display: grid; gap: 18px; }
        .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 12px; }
        .card, .panel {
          background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px;
        }
        .card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .4px; }
        .card .value { font-size: 26px; font-weight: 600; font-variant-numeric: tabular-nums; }
        .card .sub { color: var(--muted); font-size: 12px; }
        .card .value.net { font-size: 15px; line-height: 1.6; padding-top: 4px; }
        .charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 18px; }
        .chart { position: relative; }
        .chart svg { display: block; width: 100%; height: 170px; }
        .chart .grid { stroke: var(--line); stroke-width: 1; }
        .chart .ymax { position: absolute; top: 0; left: 4px; font-size: 11px; color: var(--muted); }
        .xaxis { display: flex; justify-content: space-between; font-size: 11px; color: var(--muted); }
        .line { fill: none; stroke-width: 2; stroke-linejoin: round; }
        .area { stroke: none; opacity: .15; }
        .s-depth { stroke: var(--accent); fill: var(--accent); }
        .s-flight { stroke: var(--amber); }
        .s-put { stroke: var(--violet); }
        .s-ack { stroke: var(--green); }
        .legend { display: flex; gap: 14px; font-size: 12px; color: var(--muted); margin-bottom: 6px; }
        .legend span::before {
          content: ""; display: inline-block; width: 10px; height: 3px; margin-right: 5px;
          vertical-align: middle; background: currentColor;
        }
        .legend .k-depth { color: var(--accent); } .legend .k-flight { color: var(--amber); }
        .legend .k-put { color: var(--violet); } .legend .k-ack { color: var(--green); }
        .legend span { color: var(--muted); }
        table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
        th, td { padding: 6px 8px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
        th { color: var(--muted); font-weight: 600; font-size: 12px; }
        th:first-child, td:first-child, .text { text-align: left; }
        td.text { max-width: 320px; overflow: hidden; text-overflow: ellipsis; }
        #queues tbody tr { cursor: pointer; }
        #queues tbody tr:hover { background: rgba(127, 127, 127, .08); }
        #queues tbody tr.selected { background: rgba(37, 99, 235, .12); }
        .scroll { overflow-x: auto; }
        .badge {
          display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 12px;
          background: rgba(37, 99, 235, .12); color: var(--accent);
        }
        .badge.python { background: rgba(22, 163, 74, .12); color: var(--green); }
        .warn { color: var(--amber); }
        .bad { color: var(--red); }
        .empty { color: var(--muted); margin: 8px 0 0; }
        .hint { color: var(--muted); font-size: 12px; font-weight: normal; }
        #js-errors:empty { display: none; }
        #js-errors { color: var(--red); white-space: pre-wrap; }
        footer { padding: 0 24px 24px; color: var(--muted); font-size: 12px; }
        footer a { color: var(--muted); }
        </style>
        </head>
        <body>
        <header>
          <h1>TaskMaster</h1>
          <span id="status" class="status" data-state="connecting" data-polls="0">connecting…</span>
          <span class="meta">up <span id="uptime">–</span></span>
          <span class="meta" id="updated"></span>
        </header>
        <main>
          <div id="js-errors" role="alert"></div>
          <section class="cards" aria-label="Summary">
            <div class="card"><div class="label">Queued</div><div class="value" id="total-depth">–</div></div>
            <div class="card"><div class="label">In flight</div><div class="value" id="total-in-flight">–</div></div>
            <div class="card"><div class="label">Put / s</div><div class="value" id="put-rate">–</div></div>
            <div class="card"><div class="label">Acked / s</div><div class="value" id="ack-rate">–</div></div>
            <div class="card">
              <div class="label">Clients</div><div class="value" id="client-count">–</div>
              <div class="sub" id="client-kinds"></div>
            </div>
            <div class="card">
              <div class="label">Auth failures</div><div class="value" id="auth-failures">–</div>
            </div>
            <div class="card">
              <div class="label">Memory held</div><div class="value" id="memory-used">–</div>
              <div class="sub">of <span id="memory-limit">–</span> (max_memory)</div>
            </div>
            <div class="card">
              <div class="label">Network</div>
              <div class="value net"><span id="network-in">–</span> in<br><span id="network-out">–</span> out</div>
              <div class="sub" id="network-total"></div>
            </div>
          </section>
          <section class="panel">
            <h2>Activity: <span id="chart-scope">all queues</span>
              <span class="hint">(click a queue to chart it alone)</span></h2>
            <div class="charts">
              <div>
                <div class="legend"><span class="k-depth">queued</span><span class="k-flight">in flight</span></div>
                <div class="chart">
                  <div class="ymax" id="depth-max"></div>
                  <svg id="depth-chart" viewBox="0 0 600 160" preserveAspectRatio="none" role="img"
                       aria-label="Queued and in-flight tasks over the last minutes"></svg>
                  <div class="xaxis"><span class="span-label"></span><span>now</span></div>
                </div>
              </div>
              <div>
                <div class="legend"><span class="k-put">put / s</span><span class="k-ack">acked / s</span></div>
                <div class="chart">
                  <div class="ymax" id="rate-max"></div>
                  <svg id="rate-chart" viewBox="0 0 600 160" preserveAspectRatio="none" role="img"
                       aria-label="Tasks put and acknowledged per second over the last minutes"></svg>
                  <div class="xaxis"><span class="span-label"></span><span>now</span></div>
                </div>
              </div>
            </div>
          </section>
          <section class="panel">
            <h2>Queues</h2>
            <div class="scroll">
              <table id="queues">
                <thead><tr>
                  <th>Queue</th><th>Queued</th><th>Bytes</th><th>In flight</th><th>Max</th><th>Waiting gets</th>
                  <th>Put/s</th><th>Delivered/s</th><th>Acked/s</th><th>Put</th><th>Acked</th>
                  <th>Nacked</th><th>Redelivered</th><th>Dead</th>
                </tr></thead>
                <tbody></tbody>
              </table>
            </div>
            <p class="empty" id="queues-empty">No queues yet.</p>
          </section>
          <section class="panel">
            <h2>Clients</h2>
            <div class="scroll">
              <table id="clients">
                <thead><tr>
                  <th>Id</th><th class="text">Kind</th><th class="text">Name</th><th class="text">Address</th>
                  <th>Holds</th><th>Done</th><th>Failed</th><th>Connected</th><th>Worker up</th>
                  <th>Last heartbeat</th>
                </tr></thead>
                <tbody></tbody>
              </table>
            </div>
            <p class="empty" id="clients-empty">No clients connected.</p>
          </section>
        </main>
        <footer>Also: <a href="metrics">metrics</a> (Prometheus) · <a href="api/stats">api/stats</a> (JSON)</footer>
        <script>
        "use strict";
        (function () {
          const errors = document.getElementById("js-errors");
          function reportError(message) {
            errors.textContent += message + "\n";
          }
          window.addEventListener("error", (e) => reportError("error: " + e.message));
          window.addEventListener("unhandledrejection", (e) => reportError("rejection: " + e.reason));

          const WINDOW_MS = 5 * 60 * 1000;   // history kept, and the widest the charts get
          const MIN_SPAN_MS = 60 * 1000;     // the narrowest, so a new page's chart isn't a sliver
          const RATE_MS = 5 * 1000;          // rates are averaged over this
          const POLL_MS = 1000;
          const $ = (id) => document.getElementById(id);
          const history = [];                // {t, uptime, queues: Map(name -> queue), bytesIn, bytesOut}
          let selected = null;               // queue name charted alone, or null for all
          let polls = 0;

          const integer = new Intl.NumberFormat("en-US", {maximumFractionDigits: 0});
          const decimal = new Intl.NumberFormat("en-US", {minimumFractionDigits: 1, maximumFractionDigits: 1});
          function count(n) { return n == null ? "–" : integer.format(n); }
          function rate(n) { return n == null ? "–" : decimal.format(n); }
          function bytes(n) {
            if (n == null) { return "–"; }
            const units = ["B", "KB", "MB", "GB", "TB"];
            let i = 0;
            while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
            return (i === 0 ? integer.format(n) : decimal.format(n)) + " " + units[i];
          }
          function duration(s) {
            if (s == null || !isFinite(s)) { return "–"; }
            if (s < 10) { return decimal.format(s) + " s"; }
            s = Math.floor(s);
            const pad = (x) => String(x).padStart(2, "0");
            if (s < 60) { return s + " s"; }
            if (s < 3600) { return Math.floor(s / 60) + " m " + pad(s % 60) + " s"; }
            if (s < 86400) { return Math.floor(s / 3600) + " h " + pad(Math.floor(s % 3600 / 60)) + " m"; }
            return Math.floor(s / 86400) + " d " + pad(Math.floor(s % 86400 / 3600)) + " h";
          }
          function setNumber(el, value, text) {
            el.textContent = text;
            el.dataset.value = value == null ? "" : String(value);
          }
          function cell(row, field, value, text, className) {
            const td = document.createElement("td");
            td.dataset.field = field;
            if (value !== undefined) { td.dataset.value = value == null ? "" : String(value); }
            td.textContent = text;
            if (className) { td.className = className; }
            row.appendChild(td);
            return td;
          }

          // The sample at least RATE_MS older than the newest (or the oldest there is).
          function baseline() {
            const newest = history[history.length - 1];
            for (let i = history.length - 2; i >= 0; i--) {
              if (newest.t - history[i].t >= RATE_MS) { return history[i]; }
            }
            return history.length > 1 ? history[0] : null;
          }
          function perSecond(now, then, pick) {
            if (!then || now.t <= then.t) { return null; }
            return Math.max(0, pick(now) - pick(then)) * 1000 / (now.t - then.t);
          }
          function queueTotal(sample, name, field) {
            const q = sample.queues.get(name);
            return q ? q[field] : 0;
          }
          function sumQueues(sample, field, only) {
            let total = 0;
            for (const [name, q] of sample.queues) {
              if (only == null || only === name) { total += q[field]; }
            }
            return total;
          }

          function render(stats) {
            const now = history[history.length - 1];
            const then = baseline();
            $("uptime").textContent = duration(stats.uptime_seconds);
            $("updated").textContent = "updated " + new Date().toLocaleTimeString();

            const depth = sumQueues(now, "depth", null);
            const inFlight = sumQueues(now, "in_flight", null);
            setNumber($("total-depth"), depth, count(depth));
            setNumber($("total-in-flight"), inFlight, count(inFlight));
            const putRate = perSecond(now, then, (s) => sumQueues(s, "total_put", null));
            const ackRate = perSecond(now, then, (s) => sumQueues(s, "total_acked", null));
            setNumber($("put-rate"), putRate, rate(putRate));
            setNumber($("ack-rate"), ackRate, rate(ackRate));
            setNumber($("client-count"), stats.clients.length, count(stats.clients.length));
            const kinds = {};
            for (const c of stats.clients) { kinds[c.kind] = (kinds[c.kind] || 0) + 1; }
            $("client-kinds").textContent =
              Object.keys(kinds).sort().map((k) => kinds[k] + " " + k).join(" · ");
            setNumber($("auth-failures"), stats.authentication_failures, count(stats.authentication_failures));
            $("auth-failures").classList.toggle("bad", stats.authentication_failures > 0);
            setNumber($("memory-used"), stats.memory_used_bytes, bytes(stats.memory_used_bytes));
            setNumber($("memory-limit"), stats.memory_limit_bytes, bytes(stats.memory_limit_bytes));
            $("memory-used").classList.toggle("bad", stats.memory_used_bytes >= stats.memory_limit_bytes * 0.9);
            const inRate = perSecond(now, then, (s) => s.bytesIn);
            const outRate = perSecond(now, then, (s) => s.bytesOut);
            $("network-in").textContent = inRate == null ? "–" : bytes(inRate) + "/s";
            $("network-out").textContent = outRate == null ? "–" : bytes(outRate) + "/s";
            $("network-total").textContent =
              "total " + bytes(stats.bytes_in) + " in · " + bytes(stats.bytes_out) + " out";

            renderQueues(stats, now, then);
            renderClients(stats);
            renderCharts();
          }

          function renderQueues(stats, now, then) {
            const body = document.querySelector("#queues tbody");
            const rows = [];
            if (selected != null && !now.queues.has(selected)) { selected = null; }
            for (const q of stats.queues) {
              const row = document.createElement("tr");
              row.dataset.queue = q.name;
              if (q.name === selected) { row.className = "selected"; }
              row.addEventListener("click", () => {
                selected = selected === q.name ? null : q.name;
                for (const r of body.rows) { r.classList.toggle("selected", r.dataset.queue === selected); }
                renderCharts();
              });
              cell(row, "name", undefined, q.name, "text");
              cell(row, "depth", q.depth, count(q.depth));
              cell(row, "bytes", q.bytes, bytes(q.bytes));
              cell(row, "in_flight", q.in_flight, count(q.in_flight));
              cell(row, "max_size", q.max_size, q.max_size > 0 ? count(q.max_size) : "∞");
              cell(row, "waiting_consumers", q.waiting_consumers, count(q.waiting_consumers));
              for (const [field, total] of [["put_rate", "total_put"], ["delivered_rate", "total_delivered"],
                                            ["acked_rate", "total_acked"]]) {
                const r = perSecond(now, then, (s) => queueTotal(s, q.name, total));
                cell(row, field, r, rate(r));
              }
              cell(row, "total_put", q.total_put, count(q.total_put));
              cell(row, "total_acked", q.total_acked, count(q.total_acked));
              cell(row, "total_nacked", q.total_nacked, count(q.total_nacked));
              cell(row, "total_redelivered", q.total_redelivered, count(q.total_redelivered));
              cell(row, "total_dead", q.total_dead, count(q.total_dead), q.total_dead > 0 ? "bad" : "");
              rows.push(row);
            }
            body.replaceChildren(...rows);
            $("queues-empty").hidden = rows.length > 0;
          }

          function renderClients(stats) {
            const body = document.querySelector("#clients tbody");
            const rows = [];
            for (const c of stats.clients) {
              const row = document.createElement("tr");
              row.dataset.clientId = String(c.id);
              cell(row, "id", c.id, String(c.id));
              const kind = cell(row, "kind", undefined, "", "text");
              const badge = document.createElement("span");
              badge.className = "badge " + (c.kind === "python" ? "python" : "native");
              badge.textContent = c.kind;
              kind.appendChild(badge);
              cell(row, "name", undefined, c.name || "–", "text").title = c.name;
              cell(row, "address", undefined, c.address, "text");
              cell(row, "leased", c.leased, count(c.leased));
              cell(row, "tasks_done", c.tasks_done, count(c.tasks_done));
              cell(row, "tasks_failed", c.tasks_failed, count(c.tasks_failed), c.tasks_failed > 0 ? "warn" : "");
              cell(row, "connected_seconds", c.connected_seconds, duration(c.connected_seconds));
              cell(row, "worker_uptime_seconds", c.worker_uptime_seconds, duration(c.worker_uptime_seconds));
              const beat = c.last_heartbeat_seconds_ago;
              cell(row, "last_heartbeat_seconds_ago", beat, beat == null ? "–" : duration(beat) + " ago",
                   beat > 30 ? "bad" : beat > 10 ? "warn" : "");
              rows.push(row);
            }
            body.replaceChildren(...rows);
            $("clients-empty").hidden = rows.length > 0;
          }

          const SVG = "http://www.w3.org/2000/svg";
          const W = 600, H = 160, TOP = 10;
          function niceMax(v) {
            if (!(v > 0)) { return 1; }
            const p = Math.pow(10, Math.floor(Math.log10(v)));
            for (const m of [1, 2, 2.5, 5, 10]) { if (m * p >= v) { return m * p; } }
            return 10 * p;
          }
          // Draws series (arrays of [t, value]) into an SVG; returns the y-axis maximum.
          function draw(svg, series, end, span) {
            let max = 0;
            for (const s of series) { for (const p of s.points) { max = Math.max(max, p[1]); } }
            max = niceMax(max);
            const x = (t) => ((t - (end - span)) / span * W).toFixed(1);
            const y = (v) => (H - v / max * (H - TOP)).toFixed(1);
            const nodes = [];
            for (const f of [0.25, 0.5, 0.75, 1]) {
              const g = document.createElementNS(SVG, "line");
              const gy = (H - f * (H - TOP)).toFixed(1);
              g.setAttribute("x1", "0"); g.setAttribute("x2", String(W));
              g.setAttribute("y1", gy); g.setAttribute("y2", gy);
              g.setAttribute("class", "grid");
              g.setAttribute("vector-effect", "non-scaling-stroke");
              nodes.push(g);
            }
            for (const s of series) {
              if (s.points.length === 0) { continue; }
              const d = s.points.map((p, i) => (i ? "L" : "M") + x(p[0]) + " " + y(p[1])).join(" ");
              if (s.area) {
                const first = s.points[0], last = s.points[s.points.length - 1];
                const a = document.createElementNS(SVG, "path");
                a.setAttribute("d", d + " L" + x(last[0]) + " " + H + " L" + x(first[0]) + " " + H + " Z");
                a.setAttribute("class", "area " + s.cls);
                nodes.push(a);
              }
              const l = document.createElementNS(SVG, "path");
              l.setAttribute("d", d);
              l.setAttribute("class", "line " + s.cls);
              l.setAttribute("vector-effect", "non-scaling-stroke");
              nodes.push(l);
            }
            svg.replaceChildren(...nodes);
            return max;
          }

          function renderCharts() {
            if (history.length === 0) { return; }
            const end = history[history.length - 1].t;
            const span = Math.min(WINDOW_MS, Math.max(MIN_SPAN_MS, end - history[0].t));
            for (const label of document.querySelectorAll(".span-label")) {
              const seconds = Math.round(span / 1000);
              label.textContent = "−" + (seconds % 60 === 0 ? seconds / 60 + " min" : duration(seconds));
            }
            $("chart-scope").textContent = selected == null ? "all queues" : "queue “" + selected + "”";
            const depth = [], flight = [], put = [], ack = [];
            for (let i = 0; i < history.length; i++) {
              const s = history[i];
              depth.push([s.t, sumQueues(s, "depth", selected)]);
              flight.push([s.t, sumQueues(s, "in_flight", selected)]);
              if (i > 0) {
                const prev = history[i - 1];
                put.push([s.t, perSecond(s, prev, (x) => sumQueues(x, "total_put", selected)) || 0]);
                ack.push([s.t, perSecond(s, prev, (x) => sumQueues(x, "total_acked", selected)) || 0]);
              }
            }
            const depthMax = draw($("depth-chart"), [
              {points: depth, cls: "s-depth", area: true},
              {points: flight, cls: "s-flight"},
            ], end, span);
            $("depth-max").textContent = count(depthMax);
            const rateMax = draw($("rate-chart"), [
              {points: put, cls: "s-put"},
              {points: ack, cls: "s-ack"},
            ], end, span);
            $("rate-max").textContent = rate(rateMax) + " /s";
          }

          function setStatus(state, text) {
            const el = $("status");
            el.dataset.state = state;
            el.dataset.polls = String(polls);
            el.textContent = text;
          }

          async function poll() {
            try {
              const response = await fetch("api/stats", {cache: "no-store"});
              if (!response.ok) { throw new Error("HTTP " + response.status); }
              const stats = await response.json();
              const t = performance.now();
              const queues = new Map(stats.queues.map((q) => [q.name, q]));
              // A restarted daemon's totals start over: don't compute rates across that.
              const last = history[history.length - 1];
              if (last && stats.uptime_seconds < last.uptime) { history.length = 0; }
              history.push({t, uptime: stats.uptime_seconds, queues, bytesIn: stats.bytes_in,
                            bytesOut: stats.bytes_out});
              while (history.length > 2 && t - history[1].t > WINDOW_MS) { history.shift(); }
              polls++;
              render(stats);
              setStatus("live", "live");
            } catch (e) {
              setStatus("error", "can't reach the master (" + e.message + "), retrying");
            } finally {
              setTimeout(poll, POLL_MS);
            }
          }
          poll();
        })();
        </script>
        </body>
        </html>

        """#
}
