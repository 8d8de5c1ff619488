// The case desk's behaviour, asked for by data- attributes (the CSP allows no inline script):
// a macro fills the reply for the agent to edit, tags are suggested as they are typed, and the
// phone page's timer counts the call until the agent edits the duration.
(function () {
  "use strict";

  function getJSON(url, done) {
    var xhr = new XMLHttpRequest();
    xhr.open("GET", url);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.onload = function () {
      var data = null;
      try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }
      done(xhr.status, data);
    };
    xhr.send();
  }

  // Macro picker: fetch the macro rendered for this case, put it in the reply box.
  document.querySelectorAll("select[data-macro-target]").forEach(function (picker) {
    var target = document.getElementById(picker.getAttribute("data-macro-target"));
    var field = document.getElementById(picker.getAttribute("data-macro-field"));
    var error = document.getElementById("macro-error");
    picker.addEventListener("change", function () {
      var option = picker.options[picker.selectedIndex];
      var url = option && option.getAttribute("data-url");
      if (error) { error.textContent = ""; }
      if (field) { field.value = ""; }
      if (!url) { return; }
      getJSON(url, function (status, data) {
        if (status === 200 && data && typeof data.body === "string") {
          target.value = data.body;
          if (field) { field.value = option.value; }
          target.focus();
        } else if (error) {
          error.textContent = (data && data.error) || String(status);
        }
      });
    });
  });

  // Tag suggestions: the last comma-separated part typed is the prefix asked for.
  document.querySelectorAll("input[data-tags-url]").forEach(function (input) {
    var list = document.getElementById(input.getAttribute("list"));
    var pending = null;
    input.addEventListener("input", function () {
      var parts = input.value.split(",");
      var prefix = parts[parts.length - 1].trim();
      var head = parts.slice(0, -1).map(function (p) { return p.trim(); }).filter(Boolean);
      clearTimeout(pending);
      if (!prefix || !list) { return; }
      pending = setTimeout(function () {
        var url = input.getAttribute("data-tags-url") + "?q=" + encodeURIComponent(prefix);
        getJSON(url, function (status, names) {
          if (status !== 200 || !Array.isArray(names)) { return; }
          list.textContent = "";
          names.forEach(function (name) {
            var option = document.createElement("option");
            option.value = head.concat([name]).join(", ");
            list.appendChild(option);
          });
        });
      }, 150);
    });
  });

  // The call timer: starts with the page, fills the duration until the agent types in it.
  document.querySelectorAll("[data-timer-for]").forEach(function (clock) {
    var input = document.getElementById(clock.getAttribute("data-timer-for"));
    var started = Date.now();
    var edited = false;
    if (input) {
      input.addEventListener("input", function () { edited = true; });
    }
    function tick() {
      var seconds = Math.floor((Date.now() - started) / 1000);
      var m = Math.floor(seconds / 60);
      var s = seconds % 60;
      clock.textContent = m + ":" + (s < 10 ? "0" : "") + s;
      if (input && !edited) { input.value = String(seconds); }
    }
    tick();
    setInterval(tick, 1000);
  });
})();
