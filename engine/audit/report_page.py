"""The report page's own style and behaviour, inline in every page (no request leaves it): the
stylesheet and the vanilla script that filters and searches the patients. Kept apart from
`engine/audit/report.py`, which builds the page's content from a trail."""

CSS = """
:root{--ink:#1d2430;--muted:#5b6575;--line:#d9dee7;--bg:#f6f7f9;--card:#fff;
--green:#1f7a4d;--green-bg:#e5f4ec;--red:#b42318;--red-bg:#fdeceb;--amber:#8a5a00;
--amber-bg:#fff4d6;--grey:#5b6575;--grey-bg:#eef0f3;--blue:#2b59c3;--violet:#6941c6;
--violet-bg:#f1ecfb}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
main{max-width:1200px;margin:0 auto;padding:20px 28px 48px}
h1{font-size:24px;margin:0 0 12px}h1 .version{color:var(--muted);font-weight:400;font-size:18px}
h2{font-size:18px;margin:22px 0 8px}h3{font-size:15px;margin:18px 0 4px}
h4{font-size:14px;margin:0 0 6px;font-weight:600}h5{font-size:12px;margin:0 0 4px;
color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
code,pre{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12.5px}
.verification{margin:0 0 14px;padding:12px 16px;border-radius:8px;border:2px solid;
display:flex;flex-direction:column;gap:2px}
.verification strong{font-size:17px}.verification span{color:var(--muted)}
.verification.intact{border-color:var(--green);background:var(--green-bg);color:var(--green)}
.verification.tampered{border-color:var(--red);background:var(--red-bg);color:var(--red)}
.verification.tampered strong{font-size:20px}
.verification.unverified{border-color:var(--grey);background:var(--grey-bg);color:var(--grey)}
table.run{border-collapse:collapse;background:var(--card);border:1px solid var(--line);
border-radius:8px;width:100%}
table.run th,table.run td{text-align:left;vertical-align:top;padding:4px 12px;
border-bottom:1px solid var(--line)}
table.run th{width:130px;color:var(--muted);font-weight:500}
table.run td.aside{color:var(--muted);font-size:12.5px;word-break:break-all}
table.attrition{border-collapse:collapse;background:var(--card);border:1px solid var(--line);
border-radius:8px;font-size:13px}
table.attrition th,table.attrition td{padding:4px 12px;border-bottom:1px solid var(--line);
text-align:right}
table.attrition th:nth-child(-n+2),table.attrition td:nth-child(-n+2){text-align:left}
table.attrition th{color:var(--muted);font-weight:500}
.cohort{display:grid;grid-template-columns:330px minmax(0,1fr);gap:24px;align-items:start}
.cohort h3{margin-top:0}.excluded .hint{margin-top:0}
.cards{display:grid;grid-template-columns:1fr 1fr;gap:10px}
.card{background:var(--card);border:1px solid var(--line);border-left-width:6px;border-radius:8px;
padding:8px 16px;display:flex;flex-direction:column}
.card .count{font-size:28px;font-weight:700}
.card .label{color:var(--muted);text-transform:capitalize}
.card.eligible{border-left-color:var(--green)}.card.ineligible{border-left-color:var(--red)}
.card.needs_review{border-left-color:#d69e00}.card.rejected{border-left-color:var(--violet)}
.decided,.hint{color:var(--muted);margin:8px 0}
.held h3{margin:14px 0 4px}.held ul{margin:0;padding-left:18px}.held a{color:var(--amber)}
.warning{color:var(--red);font-weight:600}
svg.chart{background:var(--card);border:1px solid var(--line);border-radius:8px;display:block;
max-width:100%;height:auto}
svg.chart .label{font-size:13px;font-weight:600;fill:var(--ink)}
svg.chart .role{font-weight:400;fill:var(--muted);font-size:11px}
svg.chart .value{font-size:12px;fill:var(--ink)}svg.chart .tick{font-size:11px;fill:var(--muted)}
svg.chart .grid{stroke:var(--line)}svg.chart .empty{font-size:14px;fill:var(--muted)}
svg.chart .bar.inclusion rect{fill:var(--blue)}svg.chart .bar.exclusion rect{fill:#c4452f}
svg.chart .bar:hover rect{opacity:.8}
.legend{color:var(--muted);font-size:12.5px}
.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;margin:0 4px -1px 8px}
.swatch.inclusion{background:var(--blue)}.swatch.exclusion{background:#c4452f}
.filters{display:flex;flex-wrap:wrap;gap:10px 16px;align-items:end;background:var(--card);
border:1px solid var(--line);border-radius:8px;padding:10px 14px;position:sticky;top:0;z-index:2}
.filters label{display:flex;flex-direction:column;font-size:12px;color:var(--muted);gap:2px}
.filters input,.filters select,.filters button{font:inherit;padding:5px 8px;border:1px solid
var(--line);border-radius:6px;background:#fff;color:var(--ink)}
.filters input{width:210px}.filters button{cursor:pointer}
#f-shown{margin-left:auto;color:var(--muted);align-self:center}
.patient{background:var(--card);border:1px solid var(--line);border-radius:8px;margin:8px 0}
.phead{cursor:pointer;padding:9px 14px;display:flex;gap:12px;align-items:baseline;flex-wrap:wrap}
.phead .pid{font-weight:700;font-family:ui-monospace,"DejaVu Sans Mono",monospace;min-width:330px}
.phead .why{color:var(--ink)}.phead .where{color:var(--muted);margin-left:auto;font-size:12px}
.decision{font-size:12px;font-weight:700;border-radius:999px;padding:1px 10px;min-width:110px;
text-align:center}
.decision.eligible{background:var(--green-bg);color:var(--green)}
.decision.ineligible{background:var(--red-bg);color:var(--red)}
.decision.needs_review{background:var(--amber-bg);color:var(--amber)}
.decision.rejected,.decision.undecided{background:var(--violet-bg);color:var(--violet)}
.pbody{padding:4px 14px 14px;border-top:1px solid var(--line)}
.warnings,.problems{color:var(--amber);margin:8px 0}
article.crit,article.def{border:1px solid var(--line);border-left-width:5px;border-radius:6px;
padding:10px 12px;margin:10px 0}
article.crit.blocks{border-left-color:var(--red)}article.crit.open{border-left-color:#d69e00}
article.crit.passes{border-left-color:var(--green)}article.crit.na{border-left-color:#aab2bf}
article.def{border-left-color:var(--violet)}
.verdict{font-size:12px;font-weight:700;border-radius:4px;padding:1px 7px}
.verdict.blocks{background:var(--red-bg);color:var(--red)}
.verdict.open{background:var(--amber-bg);color:var(--amber)}
.verdict.passes{background:var(--green-bg);color:var(--green)}
.verdict.na{background:var(--grey-bg);color:var(--grey)}
.kind{color:var(--muted);font-weight:400}.rule{color:var(--muted);font-weight:400;
font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12px;margin-left:8px}
blockquote.sentence{margin:4px 0 8px;padding:4px 10px;border-left:3px solid var(--line);
color:#343c49;font-style:italic}
.whynot{background:#fff8f6;border:1px solid #f3d4cf;border-radius:6px;padding:6px 10px;
margin:6px 0}
article.open .whynot{background:#fffbeb;border-color:#f1dfa6}
article.na .whynot{background:var(--grey-bg);border-color:var(--line)}
.whynot p{margin:2px 0}
.cols{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:12px;margin:6px 0}
.evidence ul{list-style:none;margin:0;padding:0}.evidence li{margin:0 0 5px;padding-left:24px;
position:relative}
.mark{position:absolute;left:0;top:0;width:18px;height:18px;border-radius:50%;text-align:center;
font-weight:700;line-height:18px;font-size:13px}
.legend .mark{position:static;display:inline-block;margin-left:6px}
.mark.true{background:var(--green-bg);color:var(--green)}
.mark.false{background:var(--red-bg);color:var(--red)}
.mark.unknown{background:var(--amber-bg);color:var(--amber)}
.evidence .line{color:var(--muted);font-size:12px}.evidence .detail{color:#3c4553}
pre.dsl{margin:0;background:#f3f5f8;border:1px solid var(--line);border-radius:6px;
padding:6px 0;white-space:pre-wrap;overflow-wrap:anywhere}
pre.dsl .sl{display:block;padding:0 10px 0 58px;text-indent:-48px}
pre.dsl .sl.cond{background:#e8eefc}pre.dsl .sl.head{background:#eef0f3}
pre.dsl .ln{display:inline-block;width:40px;text-indent:0;text-align:right;margin-right:8px;
color:#8a93a3;user-select:none}
pre.dsl .gap{display:block;padding-left:22px;color:#8a93a3}
.source .file{text-transform:none;letter-spacing:0;font-weight:400}
.note,.nofacts,.fired{color:var(--muted);font-size:12px;margin:4px 0}
table.facts{border-collapse:collapse;width:100%;font-size:12.5px;margin-top:6px}
table.facts caption{text-align:left;font-size:12px;color:var(--muted);text-transform:uppercase;
letter-spacing:.04em;font-weight:600;padding-bottom:2px}
table.facts th,table.facts td{border:1px solid var(--line);padding:3px 6px;text-align:left;
vertical-align:top}
table.facts th{background:#f3f5f8;font-weight:600}table.facts td:nth-child(5){white-space:nowrap}
.reasons{margin:10px 0 0;font-weight:600}.settle{margin:4px 0 0;color:var(--amber)}
footer{margin-top:28px;color:var(--muted)}
[hidden]{display:none!important}
@media (max-width:800px){.cols,.cohort{grid-template-columns:1fr}.phead .pid{min-width:0}}
@media print{.filters{display:none}body{background:#fff}}
"""

#: What a page's script and the summary's share: the filter controls, and reading them from the
#: URL fragment (`#q=...&decision=...`), so a link from the summary opens a page filtered alike.
_CONTROLS = """  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var controls = {q: $("f-q"), decision: $("f-decision"), criterion: $("f-criterion"),
                  verdict: $("f-verdict")};
"""

_READ = """  function read() {
    var params = new URLSearchParams(location.hash.replace(/^#/, ""));
    Object.keys(controls).forEach(function (key) {
      var value = params.get(key) || "", el = controls[key];
      if (el.tagName === "SELECT" && value &&
          !Array.prototype.some.call(el.options, function (o) { return o.value === value; })) {
        value = "";
      }
      el.value = value;
    });
  }
"""

#: ... and what a change of a control does: the fragment written, the filter applied again.
_WIRED = """  Object.keys(controls).forEach(function (key) {
    controls[key].addEventListener(key === "q" ? "input" : "change", function () {
      write(); apply();
    });
  });
  $("filter").addEventListener("submit", function (event) { event.preventDefault(); });
  $("f-reset").addEventListener("click", function () {
    Object.keys(controls).forEach(function (key) { controls[key].value = ""; });
    write(); apply();
  });
"""

SCRIPT = """
(function () {
""" + _CONTROLS + """  var lower = function (el) { return (el.textContent || "").toLowerCase(); };
  var patients = Array.prototype.map.call(document.querySelectorAll("section.patient"),
    function (el) {
      var rows = function (selector) {
        return Array.prototype.map.call(el.querySelectorAll(selector), function (row) {
          return {el: row, criterion: row.getAttribute("data-criterion"),
                  verdict: row.getAttribute("data-verdict"), text: lower(row)};
        });
      };
      return {el: el, details: el.querySelector("details"),
              id: (el.getAttribute("data-patient") || "").toLowerCase(),
              decision: el.getAttribute("data-decision"),
              criteria: rows("article.crit"), definitions: rows("article.def")};
    });
""" + _READ + """  function write() {
    var params = new URLSearchParams();
    Object.keys(controls).forEach(function (key) {
      if (controls[key].value) { params.set(key, controls[key].value); }
    });
    var hash = params.toString();
    try {
      history.replaceState(null, "", hash ? "#" + hash : location.pathname + location.search);
    } catch (ignored) { /* a page opened from a file may refuse; the filter still applies */ }
  }
  function apply() {
    var q = controls.q.value.trim().toLowerCase(), decision = controls.decision.value,
        criterion = controls.criterion.value, verdict = controls.verdict.value;
    var narrowed = Boolean(criterion || verdict), shown = 0;
    patients.forEach(function (p) {
      var byId = !q || p.id.indexOf(q) >= 0, any = false;
      p.criteria.forEach(function (row) {
        var hit = (!criterion || row.criterion === criterion) &&
                  (!verdict || row.verdict === verdict) && (byId || row.text.indexOf(q) >= 0);
        row.el.hidden = !hit;
        any = any || hit;
      });
      p.definitions.forEach(function (row) {
        var hit = !narrowed && (byId || row.text.indexOf(q) >= 0);
        row.el.hidden = !hit;
        any = any || hit;
      });
      var visible = (!decision || p.decision === decision) && (any || (!narrowed && byId));
      p.el.hidden = !visible;
      if (visible) { shown += 1; }
      if (p.details && (narrowed || q)) {
        p.details.open = visible;
        p.details.setAttribute("data-auto", "");
      } else if (p.details && p.details.hasAttribute("data-auto")) {
        p.details.open = false;
        p.details.removeAttribute("data-auto");
      }
    });
    $("f-shown").textContent = shown + " of " + patients.length + " patients shown";
    document.body.setAttribute("data-shown", String(shown));
  }
  function all(open) {
    patients.forEach(function (p) { if (p.details && !p.el.hidden) { p.details.open = open; } });
  }
""" + _WIRED + """  $("f-open").addEventListener("click", function () { all(true); });
  $("f-close").addEventListener("click", function () { all(false); });
  window.addEventListener("hashchange", function () {
    if (location.hash.indexOf("=") < 0) { return; }  /* a link to a criterion, not a filter */
    read();
    apply();
    $("filters").scrollIntoView();
  });
  window.addEventListener("beforeprint", function () { all(true); });
  read();
  apply();
  document.body.setAttribute("data-ready", "true");
}());
"""

#: What a paged report adds to the style (`engine/audit/report_pages.py`): the pager of a page of
#: patients, the statements of its criteria, and the summary's tables.
PAGED_CSS = """
nav.pager{display:flex;gap:14px;align-items:baseline;margin:0 0 10px;flex-wrap:wrap}
nav.pager .here{font-weight:700}
section.rules article{background:var(--card);border:1px solid var(--line);border-radius:8px;
padding:10px 12px;margin:10px 0}
section.rules ol.parts{margin:4px 0 8px;padding-left:0;list-style:none}
section.rules ol.parts li{margin:0 0 2px}section.rules ol.parts .line{color:var(--muted);
font-size:12px;margin-right:8px}
ul.evidence{list-style:none;margin:6px 0;padding:0}ul.evidence li{margin:0 0 5px;
padding-left:24px;position:relative}ul.evidence a{font-size:12px}
.used{font-size:12.5px;margin:4px 0}
table.pages,table.verdicts,table.rejected{border-collapse:collapse;background:var(--card);
border:1px solid var(--line);font-size:13px;width:100%}
table.pages th,table.pages td,table.verdicts th,table.verdicts td,table.rejected th,
table.rejected td{padding:4px 10px;border-bottom:1px solid var(--line);text-align:right;
vertical-align:top}
table.pages th,table.verdicts th,table.rejected th{color:var(--muted);font-weight:500}
table.pages td.ids,table.verdicts td:nth-child(-n+2),table.verdicts th:nth-child(-n+2),
table.rejected td:nth-child(n+3),table.rejected th:nth-child(n+3){text-align:left}
table.pages td.ids{max-width:520px;font-family:ui-monospace,"DejaVu Sans Mono",monospace;
font-size:12px}
table.pages td.match a{margin-right:8px}
nav.window{display:flex;gap:12px;align-items:baseline;margin:10px 0 6px}
nav.window button{font:inherit;padding:3px 8px;border:1px solid var(--line);border-radius:6px;
background:#fff;cursor:pointer}nav.window button:disabled{cursor:default;opacity:.5}
"""

#: The summary page's script: the filter of its table of pages, from the same URL fragment as a
#: page's (`q`, `decision`, `criterion`, `verdict`): the pages that hold such patients, how many,
#: each linked to its page filtered the same way, `BLOCK` at a time. What it shows comes from the
#: index beside the summary (`engine/audit/report_index.py`), a file loaded by a script element (a
#: page opened from a file may not fetch its neighbours) when a view first needs it: a search loads
#: the files of ids that can hold ids starting so (at most `SEARCHED` of them), a filter the
#: match files of its criterion and verdict, the table the blocks of the pages it shows.
SUMMARY_SCRIPT = """
(function () {
""" + _CONTROLS + """  var contents = JSON.parse($("index").getAttribute("data-index"));
  var body = $("pages-table").tBodies[0], SEARCHED = 4;
  var files = {}, waiting = {}, view = null, at = 0, generation = 0;
  window.proto_rules_index = function (name, data) {
    if (waiting[name]) { waiting[name](data); delete waiting[name]; }
  };
  function load(name) {
    if (!files[name]) {
      files[name] = new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        waiting[name] = resolve;
        script.src = "index/" + name + ".js";
        script.onerror = function () { reject(new Error("index/" + name + ".js")); };
        document.head.appendChild(script);
      });
    }
    return files[name];
  }
  function padded(n, width) {
    var text = String(n);
    while (text.length < width) { text = "0" + text; }
    return text;
  }
  function named(kind, n) { return kind + "-" + padded(n, 4); }
  function pageName(n) {
    return "patients/page-" + padded(n, Math.max(4, String(contents.pages).length)) + ".html";
  }
""" + _READ + """  function fragment() {
    var params = new URLSearchParams();
    Object.keys(controls).forEach(function (key) {
      if (controls[key].value) { params.set(key, controls[key].value); }
    });
    return params.toString();
  }
  function write() {
    var hash = fragment();
    try {
      history.replaceState(null, "", hash ? "#" + hash : location.pathname + location.search);
    } catch (ignored) { /* a page opened from a file may refuse; the filter still applies */ }
  }
  /* The files of ids that can hold an id starting with q: those whose first id (cut to
     `units`) is not past q, up to the first whose first id is past it. */
  function idFiles(q) {
    var firsts = contents.ids, key = q.slice(0, contents.units), found = [];
    firsts.forEach(function (first, i) {
      var next = i + 1 < firsts.length ? firsts[i + 1] : null;
      if ((next === null || next >= key || key.indexOf(next) === 0) &&
          (i === 0 || first <= key || first.indexOf(key) === 0)) {
        found.push(named("ids", i + 1));
      }
    });
    return found;
  }
  function search(q, decision) {
    var names = idFiles(q);
    return Promise.all(names.slice(0, SEARCHED).map(load)).then(function (lists) {
      var found = [];
      lists.forEach(function (rows) {
        rows.forEach(function (row) {
          if (row[0].toLowerCase().indexOf(q) === 0 &&
              (!decision || contents.decisions[row[2]] === decision)) { found.push(row); }
        });
      });
      return {found: found, cut: names.length > SEARCHED};
    });
  }
  /* Patients by page who have the decision, criterion and verdict asked for. */
  function matching(decision, criterion, verdict) {
    var names = [];
    contents.matches.forEach(function (match, i) {
      if (criterion || verdict ? match[0] && (!criterion || match[0] === criterion) &&
                                 (!verdict || match[1] === verdict) : !match[0]) {
        names.push(named("match", i + 1));
      }
    });
    return Promise.all(names.map(load)).then(function (lists) {
      var counts = {};
      lists.forEach(function (flat) {
        for (var k = 0; k < flat.length; k += 3) {
          if (!decision || contents.decisions[flat[k + 1]] === decision) {
            counts[flat[k]] = (counts[flat[k]] || 0) + flat[k + 2];
          }
        }
      });
      return counts;
    });
  }
  function numbers(keys) {
    return keys.map(Number).sort(function (a, b) { return a - b; });
  }
  function links(ids) {
    var cell = document.createDocumentFragment();
    ids.slice(0, 10).forEach(function (id) {
      var a = document.createElement("a");
      a.href = pageName(id[1]) + "#q=" + encodeURIComponent(id[0]);
      a.textContent = id[0];
      cell.appendChild(a);
    });
    if (ids.length > 10) {
      cell.appendChild(document.createTextNode("and " + (ids.length - 10) + " more"));
    }
    return cell;
  }
  /* The view a filter asks for: the pages that hold such patients (null: every page), what a
     page's match cell says, and how many patients match. */
  function wanted(q, decision, criterion, verdict) {
    var narrowed = criterion || verdict;
    if (q) {
      return Promise.all([search(q, decision),
                          narrowed ? matching(decision, criterion, verdict) : null])
        .then(function (both) {
          var byPage = {}, n = 0;
          both[0].found.forEach(function (row) {
            if (both[1] && !both[1][row[1]]) { return; }
            (byPage[row[1]] = byPage[row[1]] || []).push(row);
            n += 1;
          });
          return {pages: numbers(Object.keys(byPage)), patients: n, cut: both[0].cut,
                  match: function (page) { return links(byPage[page]); }};
        });
    }
    if (decision || narrowed) {
      return matching(decision, criterion, verdict).then(function (counts) {
        var n = 0;
        Object.keys(counts).forEach(function (page) { n += counts[page]; });
        return {pages: numbers(Object.keys(counts)), patients: n, match: function (page) {
          return document.createTextNode(counts[page] + " patients");
        }};
      });
    }
    return Promise.resolve({pages: null, patients: contents.patients, match: null});
  }
  function row(number, block, hash) {
    var tr = document.createElement("tr"), data = block[(number - 1) % contents.block];
    var first = (number - 1) * contents.size + 1;
    var cells = [first + "\\u2013" + Math.min(first + contents.size - 1, contents.patients)];
    for (var d = 0; d < contents.columns; d++) { cells.push(String(data[2][d] || 0)); }
    var a = document.createElement("a"), td = document.createElement("td");
    tr.className = "page";
    a.className = "page";
    a.setAttribute("data-page", pageName(number));
    a.href = pageName(number) + (hash ? "#" + hash : "");
    a.textContent = "page " + number;
    td.appendChild(a);
    tr.appendChild(td);
    cells.forEach(function (text) {
      var cell = document.createElement("td");
      cell.textContent = text;
      tr.appendChild(cell);
    });
    var match = document.createElement("td"), ids = document.createElement("td");
    match.className = "match";
    if (view.match) { match.appendChild(view.match(number)); }
    ids.className = "ids";
    ids.textContent = data[0] + " \\u2026 " + data[1];
    tr.appendChild(match);
    tr.appendChild(ids);
    return tr;
  }
  /* The rows of the pages from `at`, `block` of them, drawn once their blocks are loaded. */
  function draw(hash) {
    var total = view.pages ? view.pages.length : contents.pages, shown = [], blocks = {};
    for (var k = at; k < Math.min(total, at + contents.block); k++) {
      shown.push(view.pages ? view.pages[k] : k + 1);
    }
    shown.forEach(function (n) { blocks[Math.ceil(n / contents.block)] = true; });
    var wanted = numbers(Object.keys(blocks));
    return Promise.all(wanted.map(function (b) { return load(named("pages", b)); }))
      .then(function (loaded) {
        var byBlock = {};
        wanted.forEach(function (b, i) { byBlock[b] = loaded[i]; });
        body.textContent = "";
        shown.forEach(function (n) {
          body.appendChild(row(n, byBlock[Math.ceil(n / contents.block)], hash));
        });
        $("w-here").textContent = total ? "pages " + (at + 1) + "\\u2013" + (at + shown.length) +
          " of " + total : "no page";
        $("w-back").disabled = at === 0;
        $("w-on").disabled = at + contents.block >= total;
      });
  }
  function apply() {
    var q = controls.q.value.trim().toLowerCase(), decision = controls.decision.value,
        criterion = controls.criterion.value, verdict = controls.verdict.value;
    var hash = fragment(), mine = ++generation;
    return wanted(q, decision, criterion, verdict).then(function (found) {
      if (mine !== generation) { return null; }
      view = found;
      at = 0;
      var pages = view.pages ? view.pages.length : contents.pages;
      $("f-shown").textContent = !hash ? contents.pages + " pages" : pages + " of " +
        contents.pages + " pages hold such patients, " + view.patients + " patients match" +
        (view.cut ? " in the first " + SEARCHED + " files of ids that hold ids starting so " +
         "(there are more): type more of the id" : "");
      document.body.setAttribute("data-shown", String(pages));
      return draw(hash);
    }).catch(function (error) {
      $("f-shown").textContent = "The index beside this page could not be read (" +
        error.message + "): the summary needs its folder index/.";
    });
  }
  function move(by) {
    if (view) {
      at += by * contents.block;
      draw(fragment());
    }
  }
""" + _WIRED + """  $("w-back").addEventListener("click", function () { move(-1); });
  $("w-on").addEventListener("click", function () { move(1); });
  window.addEventListener("hashchange", function () {
    if (location.hash.indexOf("=") < 0) { return; }
    read();
    apply();
    $("pages").scrollIntoView();
  });
  read();
  apply().then(function () { document.body.setAttribute("data-ready", "true"); });
}());
"""
