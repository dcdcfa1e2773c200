/* The register form, enhanced. Without this script the form still works: every student has radio buttons with
   their mark (present by default), minutes late and a remark, and one submit button saves the whole register.

   With it: minutes late show only for a late mark (a tap on a late mark moves to them), remarks open with a
   button, a running tally says how many students are present, late, absent and not yet marked, a letter key on
   a student's marks chooses that code ("p" or "/" for present), and leaving with unsaved changes asks first. */
(function () {
  "use strict";

  var form = document.querySelector("form[data-register]");
  if (!form) return;
  document.documentElement.classList.add("js");

  var rows = Array.prototype.slice.call(form.querySelectorAll("[data-student]"));
  var tally = document.getElementById("register-tally");
  var submitButton = form.querySelector("button[type=submit]");
  var submitting = false;

  function radios(row) {
    return Array.prototype.slice.call(row.querySelectorAll("input[type=radio]"));
  }

  function otherSelect(row) {
    return row.querySelector("select[data-other]");
  }

  // The code a row will be saved with, and the tally group it counts under.
  function current(row) {
    var other = otherSelect(row);
    if (other && other.value) {
      var option = other.options[other.selectedIndex];
      return { code: other.value, group: option.getAttribute("data-group") || "other" };
    }
    var checked = row.querySelector("input[type=radio]:checked");
    return checked ? { code: checked.value, group: checked.getAttribute("data-group") } : { code: "", group: "" };
  }

  function changed(row) {
    var controls = row.querySelectorAll("input, select");
    for (var i = 0; i < controls.length; i++) {
      var control = controls[i];
      if (control.type === "radio") {
        if (control.checked !== control.defaultChecked) return true;
      } else if (control.tagName === "SELECT") {
        // With no option marked `selected` in the page, the first one is the default.
        var initial = 0;
        for (var j = 0; j < control.options.length; j++) {
          if (control.options[j].defaultSelected) initial = j;
        }
        if (control.selectedIndex !== initial) return true;
      } else if (control.value !== control.defaultValue) {
        return true;
      }
    }
    return false;
  }

  function showMinutes(row, focus) {
    var box = row.querySelector("[data-minutes]");
    var input = box.querySelector("input");
    var late = current(row).group === "late";
    if (!late && input.value !== "") input.value = ""; // minutes go with a late mark only
    box.hidden = !late;
    if (late && focus) input.focus();
  }

  function describe(row) {
    var state = row.querySelector("[data-state]");
    var isChanged = changed(row);
    row.classList.toggle("is-changed", isChanged);
    if (isChanged) state.textContent = "Changed, not saved yet";
    else if (row.getAttribute("data-saved") === "true") state.textContent = "Saved";
    else state.textContent = "Not yet marked";
  }

  function updateTally() {
    if (!tally) return;
    var counts = { present: 0, late: 0, absent: 0, other: 0 };
    var unmarked = 0;
    rows.forEach(function (row) {
      var group = current(row).group;
      if (counts.hasOwnProperty(group)) counts[group] += 1;
      if (row.getAttribute("data-saved") !== "true" && !changed(row)) unmarked += 1;
    });
    var parts = [counts.present + " present", counts.late + " late", counts.absent + " absent"];
    if (counts.other) parts.push(counts.other + " other");
    var text = parts.join(", ") + ". " + (unmarked ? unmarked + " not yet marked." : "All marked.");
    tally.textContent = text;
  }

  // A register shown again with errors holds marks that were not saved, even before anything else changes.
  var summary = document.getElementById("error-summary");

  function isDirty() {
    return Boolean(summary) || rows.some(changed);
  }

  rows.forEach(function (row) {
    var name = row.getAttribute("data-name");
    var remark = row.querySelector("[data-remark]");
    var remarkInput = remark.querySelector("input");
    var line = row.querySelector(".mark-line");

    // Remarks stay folded until asked for, unless one is written already.
    var toggle = document.createElement("button");
    toggle.type = "button";
    toggle.className = "remark-toggle";
    toggle.textContent = "Remark";
    var who = document.createElement("span");
    who.className = "visually-hidden";
    who.textContent = " for " + name;
    toggle.appendChild(who);
    toggle.setAttribute("aria-controls", remarkInput.id);
    line.appendChild(toggle);
    function setRemarkOpen(open) {
      remark.hidden = !open;
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    }
    setRemarkOpen(remark.hasAttribute("data-open"));
    toggle.addEventListener("click", function () {
      var open = remark.hidden;
      setRemarkOpen(open || remarkInput.value !== "");
      if (open) remarkInput.focus();
    });

    var minutes = row.querySelector("[data-minutes]");
    minutes.hidden = !(minutes.hasAttribute("data-open") || current(row).group === "late");

    radios(row).forEach(function (radio) {
      radio.addEventListener("change", function () {
        var other = otherSelect(row);
        if (other) other.value = "";
        showMinutes(row, false);
      });
      // A tap or a click (not the arrow keys) on a late mark goes straight to the minutes.
      radio.addEventListener("click", function (event) {
        if (event.detail > 0 && radio.getAttribute("data-group") === "late") showMinutes(row, true);
      });
    });

    var other = otherSelect(row);
    if (other) {
      other.addEventListener("change", function () {
        if (other.value) {
          radios(row).forEach(function (radio) { radio.checked = false; });
        } else {
          var fallback = radios(row).filter(function (radio) { return radio.defaultChecked; })[0] || radios(row)[0];
          if (fallback) fallback.checked = true;
        }
        showMinutes(row, false);
      });
    }

    row.addEventListener("input", function () { describe(row); updateTally(); });
    row.addEventListener("change", function () { describe(row); updateTally(); });
    describe(row);
  });

  // A letter on a student's marks chooses that code: "n" for N, "l" for L, "p" or "/" for present.
  form.addEventListener("keydown", function (event) {
    var target = event.target;
    if (target.type !== "radio" || event.ctrlKey || event.metaKey || event.altKey) return;
    var key = event.key.toLowerCase();
    if (key === "p") key = "/";
    var row = target.closest("[data-student]");
    var match = radios(row).filter(function (radio) { return radio.value.toLowerCase() === key; })[0];
    if (!match) return;
    event.preventDefault();
    match.checked = true;
    match.focus();
    match.dispatchEvent(new Event("change", { bubbles: true }));
  });

  window.addEventListener("beforeunload", function (event) {
    if (submitting || !isDirty()) return;
    event.preventDefault();
    event.returnValue = "";
  });

  form.addEventListener("submit", function () {
    submitting = true;
    if (submitButton) {
      // Disabled after the browser has read the form, so a double tap cannot send the register twice.
      window.setTimeout(function () {
        submitButton.disabled = true;
        submitButton.textContent = "Saving…";
      }, 0);
    }
  });

  window.addEventListener("pageshow", function (event) {
    if (event.persisted && submitButton) {
      submitting = false;
      submitButton.disabled = false;
      submitButton.textContent = "Save register";
    }
  });

  if (summary) summary.focus();
  updateTally();
})();
