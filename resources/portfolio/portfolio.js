/* Cairn portfolio: filter the timeline by kind and tag. Optional: without this
   script the page lists everything. The choice is kept in the address
   (#kind=plan&tag=sql) so that a filtered view can be bookmarked or shared. */
(function () {
  "use strict";

  var form = document.getElementById("filters");
  if (!form) {
    return;
  }
  var kind = document.getElementById("filter-kind");
  var tag = document.getElementById("filter-tag");
  var count = document.getElementById("filter-count");
  var entries = Array.prototype.slice.call(document.querySelectorAll("li.entry"));
  var months = Array.prototype.slice.call(document.querySelectorAll("section.month"));

  function tagsOf(entry) {
    try {
      var tags = JSON.parse(entry.getAttribute("data-tags") || "[]");
      return Array.isArray(tags) ? tags : [];
    } catch (error) {
      return [];
    }
  }

  function choose(select, value) {
    for (var i = 0; i < select.options.length; i += 1) {
      if (select.options[i].value === value) {
        select.selectedIndex = i;
        return;
      }
    }
    select.selectedIndex = 0;
  }

  function readAddress() {
    var wanted = { kind: "", tag: "" };
    var hash = window.location.hash.replace(/^#/, "");
    hash.split("&").forEach(function (part) {
      var pair = part.split("=");
      if (pair.length === 2 && (pair[0] === "kind" || pair[0] === "tag")) {
        try {
          wanted[pair[0]] = decodeURIComponent(pair[1]);
        } catch (error) {
          wanted[pair[0]] = "";
        }
      }
    });
    choose(kind, wanted.kind);
    choose(tag, wanted.tag);
  }

  function writeAddress() {
    var parts = [];
    if (kind.value) {
      parts.push("kind=" + encodeURIComponent(kind.value));
    }
    if (tag.value) {
      parts.push("tag=" + encodeURIComponent(tag.value));
    }
    var target = parts.length ? "#" + parts.join("&") : window.location.pathname + window.location.search;
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, "", target);
    }
  }

  function apply() {
    var shown = 0;
    entries.forEach(function (entry) {
      var fits = (!kind.value || entry.getAttribute("data-kind") === kind.value) &&
        (!tag.value || tagsOf(entry).indexOf(tag.value) !== -1);
      entry.hidden = !fits;
      if (fits) {
        shown += 1;
      }
    });
    months.forEach(function (month) {
      month.hidden = !month.querySelector("li.entry:not([hidden])");
    });
    count.textContent = shown === entries.length
      ? entries.length + (entries.length === 1 ? " entry" : " entries")
      : "Showing " + shown + " of " + entries.length;
  }

  kind.addEventListener("change", function () { apply(); writeAddress(); });
  tag.addEventListener("change", function () { apply(); writeAddress(); });
  form.addEventListener("reset", function () {
    window.setTimeout(function () { apply(); writeAddress(); }, 0);
  });
  window.addEventListener("hashchange", function () { readAddress(); apply(); });

  form.hidden = false;
  readAddress();
  apply();
}());
