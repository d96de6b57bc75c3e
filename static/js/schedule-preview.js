// The schedule form's "next five firings": asks /schedules/preview as the cron
// expression, interval or time zone is typed, and shows the times or the error.
(function () {
  "use strict";

  function start() {
    var box = document.querySelector(".preview[data-preview-url]");
    if (!box) return;
    var url = box.getAttribute("data-preview-url");
    var cron = document.getElementById("cron");
    var interval = document.getElementById("interval");
    var timezone = document.getElementById("timezone");
    var list = document.getElementById("preview-times");
    var error = document.getElementById("preview-error");
    var empty = document.getElementById("preview-empty");
    var timer = null;
    var asked = 0;

    function show(times, message) {
      list.textContent = "";
      (times || []).forEach(function (when) {
        var item = document.createElement("li");
        var time = document.createElement("time");
        time.setAttribute("datetime", when.utc);
        time.textContent = when.utc.replace("T", " ").replace("Z", " UTC");
        item.appendChild(time);
        var zone = timezone.value.trim();
        if (zone && zone !== "UTC") { // the time in the schedule's own zone beside it
          var local = document.createElement("span");
          local.className = "muted";
          local.textContent = " (" + when.local + ")";
          item.appendChild(local);
        }
        list.appendChild(item);
      });
      empty.hidden = Boolean(message) || Boolean(times && times.length);
      error.hidden = !message;
      error.textContent = message || "";
    }

    function ask() {
      if (!cron.value.trim() && !interval.value.trim()) {
        show([], "");
        return;
      }
      var query = new URLSearchParams({cron: cron.value, interval: interval.value,
                                       timezone: timezone.value});
      var mine = ++asked;
      fetch(url + "?" + query.toString(), {credentials: "same-origin",
                                           headers: {Accept: "application/json"}})
        .then(function (response) { return response.json(); })
        .then(function (body) {
          if (mine !== asked) return; // an older answer arriving late
          show(body.times, body.error);
        })
        .catch(function () {
          if (mine === asked) show([], "The preview could not be loaded.");
        });
    }

    [cron, interval, timezone].forEach(function (input) {
      input.addEventListener("input", function () {
        clearTimeout(timer);
        timer = setTimeout(ask, 250);
      });
    });
    ask();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
