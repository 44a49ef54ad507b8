"""The report page's own style and behaviour, inline in every page (no request leaves it): the
stylesheet and the vanilla script that filters and searches the patients. Kept apart from
`engine/report.py`, which builds the page's content from a trail."""

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

#: What a paged report adds to the style (`engine/report_pages.py`): the pager of a page of
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
table.pages td.ids{max-width:520px}table.pages .idlist{white-space:pre-line;columns:11em;
font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12px}
table.pages td.match a{margin-right:8px}
"""

#: The summary page's script: the filter of its table of pages, from the same URL fragment as a
#: page's (`q`, `decision`, `criterion`, `verdict`): a row stays when its page holds such
#: patients, says how many, and links to its page filtered the same way.
SUMMARY_SCRIPT = """
(function () {
""" + _CONTROLS + """  var rows = Array.prototype.map.call(document.querySelectorAll("tr.page"), function (el) {
    var list = el.querySelector(".idlist");
    return {el: el, link: el.querySelector("a.page"), match: el.querySelector("td.match"),
            counts: JSON.parse(el.getAttribute("data-counts") || "{}"),
            ids: list ? list.textContent.split("\\n") : []};
  });
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
  function counted(row, decision, criterion, verdict) {
    var n = 0;
    Object.keys(row.counts).forEach(function (d) {
      if (decision && d !== decision) { return; }
      Object.keys(row.counts[d]).forEach(function (key) {
        var parts = key.split("\\t");
        if (criterion || verdict ? (key && (!criterion || parts[0] === criterion) &&
                                    (!verdict || parts[1] === verdict)) : !key) {
          n += row.counts[d][key];
        }
      });
    });
    return n;
  }
  function apply() {
    var q = controls.q.value.trim().toLowerCase(), decision = controls.decision.value,
        criterion = controls.criterion.value, verdict = controls.verdict.value;
    var hash = fragment(), shown = 0, patients = 0;
    rows.forEach(function (row) {
      var n = counted(row, decision, criterion, verdict), found = [];
      if (q) {
        found = row.ids.filter(function (id) { return id.toLowerCase().indexOf(q) >= 0; });
      }
      var visible = n > 0 && (!q || found.length > 0);
      row.el.hidden = !visible;
      row.link.setAttribute("href", row.link.getAttribute("data-page") + (hash ? "#" + hash : ""));
      row.match.textContent = "";
      if (visible && q) {
        found.slice(0, 10).forEach(function (id) {
          var a = document.createElement("a");
          a.href = row.link.getAttribute("data-page") + "#q=" + encodeURIComponent(id);
          a.textContent = id;
          row.match.appendChild(a);
        });
        if (found.length > 10) {
          row.match.appendChild(document.createTextNode("and " + (found.length - 10) + " more"));
        }
      } else if (visible && (decision || criterion || verdict)) {
        row.match.textContent = n + " patients";
      }
      if (visible) { shown += 1; patients += q ? found.length : n; }
    });
    $("f-shown").textContent = shown + " of " + rows.length + " pages shown" +
      (q || decision || criterion || verdict ? ", " + patients + " patients match" : "");
    document.body.setAttribute("data-shown", String(shown));
  }
""" + _WIRED + """  window.addEventListener("hashchange", function () {
    if (location.hash.indexOf("=") < 0) { return; }
    read();
    apply();
    $("pages").scrollIntoView();
  });
  read();
  apply();
  document.body.setAttribute("data-ready", "true");
}());
"""
