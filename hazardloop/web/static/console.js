// hazardloop console: a little progressive enhancement. Every page works without it.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); return; }
    // one click, one action: a second click while the page loads would send the form twice
    setTimeout(function () {
      form.querySelectorAll("button[type=submit], button:not([type])").forEach(function (b) { b.disabled = true; });
    }, 0);
  });
  // the chosen photos are named before they are sent, so a person on a phone sees what will be uploaded
  document.querySelectorAll("input[type=file][data-preview]").forEach(function (input) {
    var list = document.getElementById(input.getAttribute("data-preview"));
    input.addEventListener("change", function () {
      if (!list) return;
      list.textContent = "";
      Array.prototype.forEach.call(input.files, function (f) {
        var li = document.createElement("li");
        li.textContent = f.name + "（" + Math.round(f.size / 1024) + " KB）";
        list.appendChild(li);
      });
    });
  });
  var geo = document.getElementById("use-location");
  if (geo && navigator.geolocation) {
    geo.hidden = false;
    geo.addEventListener("click", function () {
      navigator.geolocation.getCurrentPosition(function (pos) {
        document.getElementById("lat").value = pos.coords.latitude.toFixed(6);
        document.getElementById("lon").value = pos.coords.longitude.toFixed(6);
      });
    });
  }
})();
