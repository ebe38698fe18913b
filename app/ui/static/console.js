// distillguard console: small progressive enhancements; every page works without this file.
(function () {
  "use strict";

  function onReady(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }

  onReady(function () {
    // filters: a changed select applies at once
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });

    // queue: whole rows open their cluster; j/k move, Enter opens, "/" focuses the search
    var rows = Array.prototype.slice.call(document.querySelectorAll("table.queue tbody tr[data-href]"));
    var selected = -1;
    function select(i) {
      if (!rows.length) return;
      if (selected >= 0) rows[selected].classList.remove("selected");
      selected = Math.max(0, Math.min(rows.length - 1, i));
      rows[selected].classList.add("selected");
      rows[selected].scrollIntoView({ block: "nearest" });
    }
    rows.forEach(function (row) {
      row.addEventListener("click", function (event) {
        if (event.target.closest("a, button, input")) return;
        window.location.href = row.dataset.href;
      });
    });
    document.addEventListener("keydown", function (event) {
      var typing = event.target.closest && event.target.closest("input, textarea, select");
      if (event.key === "/" && !typing) {
        var search = document.querySelector("[data-testid=queue-search]") || document.getElementById("global-search");
        if (search) { event.preventDefault(); search.focus(); search.select(); }
        return;
      }
      if (typing || event.metaKey || event.ctrlKey || event.altKey) return;
      if (event.key === "j") select(selected + 1);
      else if (event.key === "k") select(selected - 1);
      else if (event.key === "Enter" && selected >= 0) window.location.href = rows[selected].dataset.href;
    });

    // cluster page: a verdict that sends accounts to enforcement asks once more
    var form = document.getElementById("decision-form");
    if (form) {
      form.addEventListener("submit", function (event) {
        var button = event.submitter;
        if (button && button.value === "confirmed" && form.dataset.confirmAsk !== "no") {
          if (!window.confirm("Confirm this cluster? Its accounts go to the enforcement export and webhooks.")) {
            event.preventDefault();
          }
        }
      });
    }

    // infrastructure graph: hovering a node highlights its links and neighbours
    document.querySelectorAll("svg[data-chart=graph]").forEach(function (svg) {
      var edges = Array.prototype.slice.call(svg.querySelectorAll("line.edge"));
      svg.querySelectorAll("g.node").forEach(function (node) {
        var id = node.dataset.node;
        node.addEventListener("mouseenter", function () {
          svg.classList.add("focus");
          node.classList.add("on");
          edges.forEach(function (edge) {
            if (edge.dataset.a === id || edge.dataset.b === id) {
              edge.classList.add("on");
              var other = edge.dataset.a === id ? edge.dataset.b : edge.dataset.a;
              var peer = svg.querySelector('g.node[data-node="' + other + '"]');
              if (peer) peer.classList.add("on");
            }
          });
        });
        node.addEventListener("mouseleave", function () {
          svg.classList.remove("focus");
          svg.querySelectorAll(".on").forEach(function (el) { el.classList.remove("on"); });
        });
      });
    });
  });
})();
