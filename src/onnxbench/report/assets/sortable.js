// Click a column header to sort its table (numbers by data-sort, else text); click again to reverse.
document.querySelectorAll("table.sortable th").forEach(function (th) {
  th.addEventListener("click", function () {
    var table = th.closest("table"), body = table.tBodies[0];
    var col = Array.prototype.indexOf.call(th.parentNode.children, th);
    var asc = th.getAttribute("data-dir") !== "asc";
    th.parentNode.querySelectorAll("th").forEach(function (h) { h.removeAttribute("data-dir"); });
    th.setAttribute("data-dir", asc ? "asc" : "desc");
    var key = function (tr) {
      var td = tr.children[col], v = td ? td.getAttribute("data-sort") : null;
      return v !== null ? parseFloat(v) : (td ? td.textContent : "");
    };
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a), y = key(b);
      var both = typeof x === "number" && typeof y === "number";
      var c = both ? x - y : (typeof x === "number" ? -1 : typeof y === "number" ? 1 : String(x).localeCompare(String(y)));
      return asc ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
