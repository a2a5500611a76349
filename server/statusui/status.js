// The tandem status page: draws /status.json and fetches it again every
// refresh_ms, without reloading the page. Everything is built with DOM
// calls and textContent (never innerHTML), so names from the cluster
// cannot inject markup.
"use strict";
(function () {
  var SVG = "http://www.w3.org/2000/svg";
  var refreshes = 0;

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = String(text);
    return e;
  }
  function svgEl(tag, attrs, text) {
    var e = document.createElementNS(SVG, tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = String(text);
    return e;
  }
  function row(cells) {
    var tr = el("tr");
    cells.forEach(function (c) {
      var td = c instanceof Node ? el("td") : el("td", {}, c);
      if (c instanceof Node) td.appendChild(c);
      tr.appendChild(td);
    });
    return tr;
  }
  function numCell(tr, i) { tr.children[i].className = "num"; }
  function badge(text, cls) { return el("span", { "class": "badge " + (cls || text) }, text); }
  function bytes(n) {
    var units = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n : n.toFixed(1)) + units[i];
  }
  function age(nowMs, ms) {
    var s = Math.max(0, Math.round((nowMs - ms) / 1000));
    if (s < 120) return s + "s";
    if (s < 7200) return Math.round(s / 60) + "m";
    return Math.round(s / 3600) + "h";
  }
  function fmt(v) {
    if (v >= 100) return v.toFixed(0);
    if (v >= 1) return v.toFixed(1);
    return v.toFixed(3);
  }

  function drawNodes(snap) {
    var box = document.getElementById("nodes");
    box.replaceChildren();
    snap.nodes.forEach(function (n) {
      var card = el("div", { "class": "card", "data-node": n.id });
      var h = el("h3", {}, n.id + " ");
      h.appendChild(badge(n.state));
      card.appendChild(h);
      card.appendChild(el("div", { "class": "addr" }, n.addr + " · meta " + n.meta_role));
      card.appendChild(el("div", { "class": "counts" }, n.replicas + " replicas, " + n.leaders + " leaders"));
      var bar = el("div", { "class": "bar", title: "leaders / replicas" });
      var fill = el("div");
      fill.style.width = (n.replicas ? Math.round(100 * n.leaders / n.replicas) : 0) + "%";
      bar.appendChild(fill);
      card.appendChild(bar);
      if (n.error) card.appendChild(el("div", { "class": "warn" }, n.error));
      box.appendChild(card);
    });
  }

  function drawTables(snap) {
    var body = document.querySelector("#tables tbody");
    body.replaceChildren();
    (snap.tables || []).forEach(function (t) {
      var health = el("div");
      var words = t.healthy + "/" + t.partitions + " ok";
      if (t.leaderless) words += ", " + t.leaderless + " without leader";
      if (t.under_replicated) words += ", " + t.under_replicated + " under-replicated";
      health.appendChild(badge(words, t.healthy === t.partitions ? "ok" : (t.leaderless ? "bad" : "warn")));
      var strip = el("div", { "class": "strip" });
      (t.partition_rows || []).forEach(function (p) {
        strip.appendChild(el("span", { "class": "cell " + p.health, title: "partition " + p.index + ": " + p.health +
          ", leader " + (p.leader || "none") + ", " + p.live + "/" + p.placed + " replicas, decree " + p.applied_decree }));
      });
      health.appendChild(strip);
      var tr = row([t.name, t.role, String(t.partitions) + " × " + t.replicas, health,
        String(t.applied_decrees), bytes(t.size_bytes)]);
      tr.setAttribute("data-table", t.name);
      tr.children[4].className = "num applied";
      numCell(tr, 5);
      body.appendChild(tr);
    });
  }

  // plot draws series (arrays of numbers over the samples' times) into
  // svg as polylines, with the y axis from 0 to the largest value.
  function plot(svg, samples, series, unit) {
    svg.replaceChildren();
    var W = 640, H = 140, L = 46, R = 8, T = 8, B = 20;
    svg.appendChild(svgEl("line", { "class": "axis", x1: L, y1: H - B, x2: W - R, y2: H - B }));
    svg.appendChild(svgEl("line", { "class": "axis", x1: L, y1: T, x2: L, y2: H - B }));
    svg.setAttribute("data-points", String(samples.length));
    if (samples.length === 0) {
      svg.appendChild(svgEl("text", { x: L + 8, y: H / 2 }, "no samples yet"));
      return;
    }
    var t0 = samples[0].t, t1 = samples[samples.length - 1].t;
    var span = Math.max(t1 - t0, 60000);
    var ymax = 0;
    series.forEach(function (s) { samples.forEach(function (p) { ymax = Math.max(ymax, s.value(p)); }); });
    if (ymax <= 0) ymax = 1;
    series.forEach(function (s) {
      var pts = samples.map(function (p) {
        var x = W - R - (t1 - p.t) / span * (W - L - R);
        var y = H - B - s.value(p) / ymax * (H - T - B);
        return x.toFixed(1) + "," + y.toFixed(1);
      });
      svg.appendChild(svgEl("polyline", { "class": "series " + (s.cls || ""), points: pts.join(" "), "data-series": s.name }));
    });
    svg.appendChild(svgEl("text", { x: 2, y: T + 8 }, fmt(ymax) + unit));
    svg.appendChild(svgEl("text", { x: 2, y: H - B }, "0"));
    svg.appendChild(svgEl("text", { x: L, y: H - 4 }, "-" + Math.round(span / 1000) + "s"));
    svg.appendChild(svgEl("text", { x: W - R - 22, y: H - 4 }, "now"));
  }

  function drawDups(snap) {
    var box = document.getElementById("dups");
    box.replaceChildren();
    var dups = snap.duplications || [];
    if (dups.length === 0) {
      box.appendChild(el("p", { "class": "note" }, "no duplication from this cluster"));
      return;
    }
    dups.forEach(function (d) {
      var div = el("div", { "class": "dup", "data-dup": d.id });
      var head = el("p");
      head.appendChild(el("b", {}, d.id));
      head.appendChild(document.createTextNode(" " + d.table + " → " + (d.remote_cluster || "?") + " at " + d.remote_addr + " "));
      head.appendChild(badge(d.state));
      head.appendChild(document.createTextNode(" " + (d.progress || "") + " · lag "));
      head.appendChild(el("span", { "class": "lag" }, d.max_lag_decrees + " decrees / " + fmt(d.max_lag_seconds) + "s"));
      head.appendChild(document.createTextNode(" · replicated "));
      head.appendChild(el("span", { "class": "replicated" }, d.replicated_unix_ms > 0 ?
        new Date(d.replicated_unix_ms).toLocaleTimeString() + " (" + fmt(d.replicated_age_s) + "s ago)" : "unknown yet"));
      div.appendChild(head);
      if (d.divergence) {
        div.appendChild(el("p", { "class": "note divergence" }, "divergence: " + d.divergence.mutations + " writes of cluster " +
          d.divergence.cluster + " never applied here, in " + d.divergence.file + " on node " + d.divergence.node + " (dup reapply)"));
      }
      var svg = svgEl("svg", { "class": "plot dup-plot", viewBox: "0 0 640 140", role: "img", "aria-label": "lag of " + d.id });
      var series = [{ name: "lag_s", value: function (p) { return p.lag_s; } }];
      if ((d.history || []).some(function (p) { return p.replicated_unix_ms > 0; })) {
        series.push({ name: "replicated_age_s", cls: "second", value: function (p) { return p.replicated_unix_ms > 0 ? p.replicated_age_s : 0; } });
      }
      plot(svg, d.history || [], series, "s");
      div.appendChild(svg);
      box.appendChild(div);
    });
  }

  function drawCheckpoints(snap) {
    var c = snap.checkpoints;
    document.getElementById("ckpt-summary").textContent =
      c.count + " checkpoints, " + bytes(c.bytes) + ", " + c.pinned + " pinned or in transfer";
    var body = document.querySelector("#checkpoints tbody");
    body.replaceChildren();
    c.recent.forEach(function (k) {
      var tr = row([k.table, String(k.partition), k.id, String(k.decree), bytes(k.size_bytes),
        age(snap.generated_unix_ms, k.created_unix_ms), k.purpose, k.pinned ? "yes" : "no"]);
      numCell(tr, 3); numCell(tr, 4);
      body.appendChild(tr);
    });
  }

  function draw(snap) {
    drawNodes(snap);
    drawTables(snap);
    drawDups(snap);
    plot(document.getElementById("apply-plot"), snap.apply_rate || [],
      [{ name: "decrees_per_s", value: function (p) { return p.decrees_per_s; } }], "/s");
    drawCheckpoints(snap);
    document.getElementById("updated").textContent = "updated " + new Date(snap.generated_unix_ms).toLocaleTimeString();
    document.body.setAttribute("data-generated", String(snap.generated_unix_ms));
  }

  function setLive(ok) {
    document.getElementById("live-dot").className = "dot " + (ok ? "on" : "off");
  }

  var refreshMs = 1000;
  function refresh() {
    fetch("/status.json", { cache: "no-store" }).then(function (resp) {
      if (!resp.ok) throw new Error("status.json: HTTP " + resp.status);
      return resp.json();
    }).then(function (snap) {
      refreshMs = snap.refresh_ms || refreshMs;
      draw(snap);
      refreshes++;
      document.getElementById("refreshes").textContent = String(refreshes);
      setLive(true);
    }, function () {
      // A node restarting is not a page error: show it and keep trying.
      setLive(false);
    }).then(function () { setTimeout(refresh, refreshMs); });
  }

  draw(JSON.parse(document.getElementById("initial").textContent));
  setTimeout(refresh, refreshMs);
})();
