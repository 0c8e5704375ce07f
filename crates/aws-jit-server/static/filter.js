// Filters the access list as you type (the search form works without it). Every word
// typed must appear in a row's data-search text, as the server's search does.
(function () {
  "use strict";
  var input = document.querySelector("input[data-filter]");
  if (!input) return;
  var table = document.getElementById(input.getAttribute("data-filter"));
  var count = document.querySelector("[data-count]");
  if (!table) return;
  var rows = Array.prototype.slice.call(table.tBodies[0].rows);
  var texts = rows.map(function (row) { return row.getAttribute("data-search") || ""; });
  var pending = 0;
  function apply() {
    pending = 0;
    var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var text = texts[i];
      var match = words.every(function (w) { return text.indexOf(w) !== -1; });
      rows[i].hidden = !match;
      if (match) shown++;
    }
    if (count) count.textContent = String(shown);
  }
  input.addEventListener("input", function () {
    if (!pending) pending = window.requestAnimationFrame(apply);
  });
})();
