// Compose page: show only the part of the form the chosen audience needs, let the sender filter the list of
// people, and put the keyboard focus on the preview or the errors after a round trip. Without this script
// every part stays visible and the form works the same.
(function () {
  "use strict";
  var form = document.querySelector("[data-compose]");
  if (!form) {
    return;
  }

  var sections = form.querySelectorAll("[data-audience-section]");
  function showAudience() {
    var chosen = form.querySelector("input[name=audience]:checked");
    var kind = chosen ? chosen.value : "";
    sections.forEach(function (section) {
      section.hidden = section.getAttribute("data-audience-section") !== kind;
    });
  }
  form.querySelectorAll("input[name=audience]").forEach(function (radio) {
    radio.addEventListener("change", showAudience);
  });
  showAudience();

  var filterBox = form.querySelector("[data-people-filter]");
  var people = Array.prototype.slice.call(form.querySelectorAll(".people .option"));
  if (filterBox && people.length) {
    var input = filterBox.querySelector("input");
    var status = filterBox.querySelector("[data-people-count]");
    var describe = function () {
      var shown = people.filter(function (item) { return !item.hidden; }).length;
      var chosen = form.querySelectorAll(".people input:checked").length;
      status.textContent = shown + " shown, " + chosen + " chosen";
    };
    filterBox.hidden = false;
    input.addEventListener("input", function () {
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      people.forEach(function (item) {
        var text = item.textContent.toLowerCase();
        // A chosen person stays visible, so a filter never hides who the message goes to.
        var checked = item.querySelector("input").checked;
        item.hidden = !checked && !words.every(function (word) { return text.indexOf(word) !== -1; });
      });
      describe();
    });
    form.querySelector(".people").addEventListener("change", describe);
    describe();
  }

  var target = document.getElementById("errors") || document.getElementById("preview");
  if (target) {
    target.focus();
  }
})();
