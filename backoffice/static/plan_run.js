// A plan run's page while a worker computes it: ask how far it got every second and show it;
// once the run has ended (a draft to review, or a failure), load its page again.
(function () {
  "use strict";

  var box = document.getElementById("run-progress");
  if (!box || box.getAttribute("data-active") !== "1") { return; }
  var url = box.getAttribute("data-progress-url");
  var fields = {
    "run-status": "status_label", "run-stage": "stage_label", "run-covered": "covered_text",
    "run-travel": "travel_text", "run-seconds-left": "seconds_left_text",
    "run-waiting": "waiting_text", "run-stale": "stale_text"
  };

  function show(data) {
    Object.keys(fields).forEach(function (id) {
      var el = document.getElementById(id);
      if (el) { el.textContent = data[fields[id]] || ""; }
    });
    var stopping = document.getElementById("run-stopping");
    if (stopping) { stopping.hidden = !data.stopping; }
  }

  function poll() {
    var xhr = new XMLHttpRequest();
    xhr.open("GET", url);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.onload = function () {
      var data = null;
      try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }
      if (xhr.status !== 200 || !data) { window.setTimeout(poll, 2000); return; }
      show(data);
      if (data.active) { window.setTimeout(poll, 1000); } else { window.location.assign(data.url); }
    };
    xhr.onerror = function () { window.setTimeout(poll, 2000); };
    xhr.send();
  }

  window.setTimeout(poll, 1000);
})();
